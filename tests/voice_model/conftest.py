"""Shared fixtures: short synthetic voices (Debian flite), trained once per session.

Everything is small on purpose: ~12 s of reference speech, decoders trained for a few
dozen steps, so the whole ``tests/voice_model`` run stays within a few minutes on 2 cores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import torch

from voice_model import roster
from voice_model.audio import save
from voice_model.features import FeatureConfig
from voice_model.model import VoiceModel
from voice_model.neural import DecoderConfig
from voice_model.train import train

CFG = FeatureConfig()
TINY = DecoderConfig(hidden=64, layers=2, steps=80, batch=8, speeds=(1.0, 1.12), views_per_speed=1)


@dataclass(frozen=True)
class Voices:
    root: Path
    train: dict[str, Path]
    test: dict[str, Path]


@pytest.fixture(scope="session", autouse=True)
def _torch_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def voices(tmp_path_factory: pytest.TempPathFactory) -> Voices:
    speakers = {s.name: s for s in roster.ROSTER if s.engine == "flite"}
    if not all(s.available() for s in speakers.values()):
        pytest.skip("flite is not installed (scripts/bootstrap.sh installs it)")
    root = tmp_path_factory.mktemp("voices")
    train_paths, test_paths = {}, {}
    for name in ("awb", "slt", "rms"):
        spk = speakers[name]
        tr = roster.render_concat(
            spk, roster.TRAIN_SENTENCES[:6], sample_rate=CFG.sample_rate, cache_dir=root / "c"
        )
        te = roster.render_concat(
            spk, roster.TEST_SENTENCES[:2], sample_rate=CFG.sample_rate, cache_dir=root / "c"
        )
        train_paths[name] = save(root / f"{name}-train.wav", tr, CFG.sample_rate)
        test_paths[name] = save(root / f"{name}-test.flac", te, CFG.sample_rate)
    return Voices(root=root, train=train_paths, test=test_paths)


@pytest.fixture(scope="session")
def slt_models(voices: Voices, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Baseline and tiny neural models of slt, saved as artifacts."""
    out = tmp_path_factory.mktemp("models")
    paths = {}
    for method in ("baseline", "neural"):
        model = train([voices.train["slt"]], method=method, device="cpu", decoder_cfg=TINY)  # type: ignore[arg-type]
        model.save(out / method)
        paths[method] = out / method
    return paths


@pytest.fixture(scope="session")
def neural_slt(slt_models: dict[str, Path]) -> VoiceModel:
    return VoiceModel.load(slt_models["neural"], device="cpu")


SungMelody = Callable[..., npt.NDArray[np.float32]]


@pytest.fixture(scope="session")
def sung() -> SungMelody:
    """The ``sung_melody`` generator, for tests (test modules cannot import conftest)."""
    return sung_melody


def sung_melody(
    notes_hz: list[float], *, note_s: float = 0.35, sr: int = CFG.sample_rate
) -> npt.NDArray[np.float32]:
    """A vowel-like sung melody: harmonics under /a/ formants, light vibrato, float32."""
    f0 = np.concatenate([np.full(int(note_s * sr), f) for f in notes_hz])
    t = np.arange(f0.shape[0]) / sr
    f0 = f0 * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    out = np.zeros_like(f0)
    for k in range(1, 40):
        fk = k * f0
        gain = sum(
            a / (1 + ((fk - fc) / bw) ** 2)
            for fc, bw, a in ((800, 90, 1.0), (1200, 110, 0.6), (2500, 160, 0.25))
        )
        out += np.where(fk < sr / 2, gain * np.sin(k * phase), 0.0) / k**0.5
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02)
    return (0.3 * out / np.max(np.abs(out)) * fade).astype(np.float32)
