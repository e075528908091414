"""A roster of synthetic speakers from Debian's offline voices, for tests and evaluation.

Each speaker renders text to a mono WAV with a command-line synthesiser (flite, festival's
``text2wave``, espeak-ng). Sentences are the public-domain Harvard sentences; training and
test sentences never overlap. Rendered files are cached by sha256 of (speaker, text).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from voice_model.audio import load, save


@dataclass(frozen=True)
class Speaker:
    """A synthetic voice: ``engine`` is flite, festival or espeak; ``voice`` its voice name."""

    name: str
    engine: str
    voice: str

    def available(self) -> bool:
        binary = {"flite": "flite", "festival": "text2wave", "espeak": "espeak-ng"}[self.engine]
        return shutil.which(binary) is not None


ROSTER: tuple[Speaker, ...] = (
    Speaker("awb", "flite", "awb"),
    Speaker("rms", "flite", "rms"),
    Speaker("slt", "flite", "slt"),
    Speaker("kal", "flite", "kal16"),
    Speaker("ked", "festival", "ked_diphone"),
)

TRAIN_SENTENCES: tuple[str, ...] = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.",
    "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.",
    "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.",
    "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.",
    "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.",
    "Read verse out loud for pleasure.",
    "Hoist the load to your left shoulder.",
    "Take the winding path to reach the lake.",
    "Note closely the size of the gas tank.",
    "Wipe the grease off his dirty face.",
    "Mend the coat before you go out.",
    "The wrist was badly strained and hung limp.",
    "The stray cat gave birth to kittens.",
    "The young girl gave no clear response.",
    "The meal was cooked before the bell rang.",
    "What joy there is in living.",
)

TEST_SENTENCES: tuple[str, ...] = (
    "A king ruled the state in the early days.",
    "The ship was torn apart on the sharp reef.",
    "Sickness kept him home the third week.",
    "The wide road shimmered in the hot sun.",
    "The lazy cow lay in the cool grass.",
    "Lift the square stone over the fence.",
    "The rope will bind the seven books at once.",
    "Hop over the fence and plunge in.",
)


def _command(speaker: Speaker, text_file: Path, out: Path) -> list[str]:
    if speaker.engine == "flite":
        return ["flite", "-voice", speaker.voice, "-f", str(text_file), "-o", str(out)]
    if speaker.engine == "festival":
        return ["text2wave", "-eval", f"(voice_{speaker.voice})", "-o", str(out), str(text_file)]
    return ["espeak-ng", "-v", speaker.voice, "-w", str(out), "-f", str(text_file)]


def render(
    speaker: Speaker, text: str, *, sample_rate: int, cache_dir: Path
) -> npt.NDArray[np.float32]:
    """Speak ``text`` as ``speaker``; mono float32 ``(samples,)`` at ``sample_rate`` Hz."""
    key = hashlib.sha256(f"{speaker.engine}/{speaker.voice}/{text}".encode()).hexdigest()[:24]
    cached = cache_dir / f"{speaker.name}-{key}.wav"
    if not cached.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            text_file, raw = Path(tmp) / "text.txt", Path(tmp) / "raw.wav"
            text_file.write_text(text + "\n")
            subprocess.run(  # noqa: S603 - fixed argv, no shell
                _command(speaker, text_file, raw), check=True, capture_output=True, timeout=120
            )
            audio = load(raw, sample_rate=sample_rate)
            # Synthesisers pad generously; 0.15 s of silence either side is plenty.
            audio = trim_silence(audio, sample_rate, keep_s=0.15)
            save(cached, audio, sample_rate, subtype="FLOAT")
    return load(cached, sample_rate=sample_rate)


def render_concat(
    speaker: Speaker, texts: tuple[str, ...] | list[str], *, sample_rate: int, cache_dir: Path
) -> npt.NDArray[np.float32]:
    """Several sentences by one speaker, joined with 0.2 s pauses."""
    gap = np.zeros(int(0.2 * sample_rate), dtype=np.float32)
    parts: list[npt.NDArray[np.float32]] = []
    for text in texts:
        parts += [render(speaker, text, sample_rate=sample_rate, cache_dir=cache_dir), gap]
    return np.concatenate(parts).astype(np.float32)


def trim_silence(
    audio: npt.NDArray[np.float32], sample_rate: int, *, keep_s: float, threshold_db: float = -45
) -> npt.NDArray[np.float32]:
    """Cut leading/trailing audio quieter than ``threshold_db`` below the peak."""
    env = np.abs(audio)
    peak = float(env.max()) if env.size else 0.0
    if peak == 0.0:
        return audio
    loud = np.flatnonzero(env > peak * 10 ** (threshold_db / 20))
    keep = int(keep_s * sample_rate)
    return audio[max(0, loud[0] - keep) : loud[-1] + keep]
