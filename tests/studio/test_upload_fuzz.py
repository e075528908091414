"""Hostile audio through the API, the way a user sends it: every upload refused with a 422 that
names the problem and stores nothing (no object, no row, no scratch file); content problems a
decode-time check finds become a failed job with the reason, and leave the upload as it was.

The decoder itself is fuzzed harder in tests/voice_model/test_audio_fuzz.py; this is the
route's end of it (on both backends)."""

from __future__ import annotations

import hashlib
import io
import struct
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from studio.db.models import Account, Upload, VoiceModel
from studio.services import Services
from tests.studio.conftest import scratch_files
from tests.studio.speech import speech
from tests.studio.test_jobs import activate, upload, wait_done
from tests.studio.wallets import Wallet, sign_in

SR = 16000


def tone(seconds: float, *, sr: int = SR, freq: float = 220.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def encode(audio: np.ndarray, fmt: str = "WAV", subtype: str | None = None, sr: int = SR) -> bytes:
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", sr, 1, format=fmt, subtype=subtype) as fh:
        for i in range(0, len(audio), 1 << 15):  # Vorbis crashes on one huge write
            fh.write(audio[i : i + (1 << 15)])
    return buf.getvalue()


def patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def flac_total_samples(data: bytes, total: int) -> bytes:
    out = bytearray(data)
    word = int.from_bytes(out[18:26], "big")  # STREAMINFO's 36-bit total-samples field
    out[18:26] = ((word & ~((1 << 36) - 1)) | total).to_bytes(8, "big")
    return bytes(out)


def cut(data: bytes, fraction: float) -> bytes:
    return data[: int(len(data) * fraction)]


@pytest.fixture(scope="module")
def fan(client: TestClient) -> dict[str, str]:
    return sign_in(client, Wallet.new(), roles=("fan", "creator"))


def _post(
    client: TestClient,
    headers: dict[str, str],
    data: bytes,
    name: str = "voice.wav",
    ctype: str = "audio/wav",
) -> Any:
    return client.post("/v1/uploads", files={"file": (name, data, ctype)}, headers=headers)


def _count(services: Services, headers: dict[str, str], client: TestClient) -> int:
    address = client.get("/v1/me", headers=headers).json()["address"]
    with services.db() as db:
        return int(
            db.scalar(select(func.count(Upload.id)).join(Account).where(Account.address == address))
            or 0
        )


def assert_refused(
    client: TestClient, services: Services, headers: dict[str, str], data: bytes, code: str
) -> None:
    before = _count(services, headers, client)
    r = _post(client, headers, data)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    assert not services.store.exists(hashlib.sha256(data).hexdigest())
    assert _count(services, headers, client) == before
    assert scratch_files(services.settings) == []


class Files(dict[str, bytes]):
    def __repr__(self) -> str:  # hypothesis prints its arguments: not megabytes of audio
        return f"Files({sorted(self)})"


# Made once per module: valid seeds and the decompression bombs (a few MB at most).
@pytest.fixture(scope="module")
def files() -> Files:
    out = Files(
        {
            "wav": encode(tone(2.0), "WAV", "PCM_16"),
            "flac": encode(tone(2.0), "FLAC", "PCM_16"),
            "ogg": encode(tone(2.0), "OGG", "VORBIS"),
            "mp3": encode(tone(2.0, sr=44100), "MP3", "MPEG_LAYER_III", 44100),
            "flac-2h": encode(np.full(8000 * 7200, 0.25, np.float32), "FLAC", "PCM_16", 8000),
            "ogg-30min": encode(np.full(8000 * 1800, 0.25, np.float32), "OGG", "VORBIS", 8000),
        }
    )
    out["flac-hidden-length"] = flac_total_samples(out["flac-2h"], 0)
    return out


def _nan(where: float) -> bytes:
    audio = tone(1.0)
    audio[int(where * SR)] = np.nan
    return encode(audio, "WAV", "FLOAT")


CASES: dict[str, tuple[Callable[[dict[str, bytes]], bytes], str]] = {
    **{
        f"truncated-{kind}-{int(f * 100)}%": (
            lambda fs, kind=kind, f=f: cut(fs[kind], f),
            "audio_unreadable",
        )
        for kind in ("wav", "flac", "ogg", "mp3")
        for f in (0.02, 0.3, 0.7)
    },
    "riff-data-size-2^32": (
        lambda fs: patched(encode(tone(1.0), "WAV", "PCM_U8"), 40, "<I", 2**32 - 2),
        "audio_too_long",  # 74 h declared: refused from the header, nothing decoded
    ),
    "flac-claims-2^36-frames": (
        lambda fs: flac_total_samples(fs["flac"], (1 << 36) - 1),
        "audio_too_long",
    ),
    "bomb-flac-2h": (lambda fs: fs["flac-2h"], "audio_too_long"),
    "bomb-ogg-30min": (lambda fs: fs["ogg-30min"], "audio_too_long"),
    "bomb-flac-hidden-length": (lambda fs: fs["flac-hidden-length"], "audio_too_long"),
    "rate-1Hz": (lambda fs: patched(fs["wav"], 24, "<I", 1), "audio_unreadable"),
    "rate-8Hz": (lambda fs: patched(fs["wav"], 24, "<I", 8), "audio_unreadable"),
    "rate-4GHz": (lambda fs: patched(fs["wav"], 24, "<I", 4_000_000_000), "audio_unreadable"),
    "channels-0": (lambda fs: patched(fs["wav"], 22, "<H", 0), "audio_unreadable"),
    "channels-1000": (lambda fs: patched(fs["wav"], 22, "<H", 1000), "audio_unreadable"),
    "channels-65535": (lambda fs: patched(fs["wav"], 22, "<H", 65535), "audio_unreadable"),
    "nan": (lambda fs: _nan(0.5), "audio_non_finite"),
    "plus-inf": (
        lambda fs: encode(np.where(tone(1.0) > 0.29, np.inf, tone(1.0)), "WAV", "FLOAT"),
        "audio_non_finite",
    ),
    "minus-inf-double": (
        lambda fs: encode(np.where(tone(1.0) < -0.29, -np.inf, tone(1.0)), "WAV", "DOUBLE"),
        "audio_non_finite",
    ),
    "zero-length-wav": (lambda fs: encode(np.zeros(0, np.float32)), "audio_too_short"),
    "empty-file": (lambda fs: b"", "audio_unreadable"),
    "silence": (lambda fs: encode(np.zeros(SR, np.float32), "FLAC", "PCM_16"), "audio_silent"),
    "random-bytes": (lambda fs: np.random.default_rng(7).bytes(50_000), "audio_unreadable"),
    "aiff": (lambda fs: encode(tone(1.0), "AIFF", "PCM_16"), "audio_unreadable"),
    "caf": (lambda fs: encode(tone(1.0), "CAF", "PCM_16"), "audio_unreadable"),
    "matlab": (lambda fs: encode(tone(1.0), "MAT5", "DOUBLE"), "audio_unreadable"),
    "html": (lambda fs: b"<html><script>alert(1)</script></html>", "audio_unreadable"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_upload_is_refused_and_stores_nothing(
    client: TestClient,
    services: Services,
    fan: dict[str, str],
    files: Files,
    case: str,
) -> None:
    make, code = CASES[case]
    assert_refused(client, services, fan, make(files), code)


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(["wav", "flac", "ogg", "mp3"]), fraction=st.floats(0.0, 0.85))
def test_truncated_anywhere_is_refused(
    client: TestClient,
    services: Services,
    fan: dict[str, str],
    files: Files,
    kind: str,
    fraction: float,
) -> None:
    assert_refused(client, services, fan, cut(files[kind], fraction), "audio_unreadable")


def test_claimed_name_and_content_type_are_not_trusted(
    client: TestClient, services: Services, fan: dict[str, str]
) -> None:
    """A FLAC sent as 'text/html' with a path for a name: the object is served as audio (an
    uploader must not get HTML served from the object store's origin)."""
    data = encode(tone(1.0, freq=523.0), "FLAC", "PCM_16")
    body = (
        b"--b\r\n"
        b'Content-Disposition: form-data; name="file"; filename="../../etc/pass\x00wd.wav"\r\n'
        b"Content-Type: text/html\r\n\r\n" + data + b"\r\n--b--\r\n"
    )
    r = client.post(
        "/v1/uploads",
        content=body,
        headers={**fan, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 201, r.text
    up = r.json()
    assert (up["format"], up["filename"]) == ("flac", "passwd.wav")
    with services.db() as db:
        row = db.get(Upload, uuid.UUID(up["id"]))
        assert row is not None and row.content_type == "audio/flac"
    url = client.get(f"/v1/uploads/{up['id']}/url", headers=fan).json()["url"]
    fetch = client.get if url.startswith("http://testserver") else httpx.get
    served = fetch(url)
    assert served.status_code == 200 and served.content == data
    assert served.headers["content-type"] in ("audio/flac", "application/octet-stream")


# --- content problems found only when a job decodes the upload ------------------------------


@pytest.fixture(scope="module")
def voice(
    client: TestClient, services: Services, fan: dict[str, str], tmp_path_factory: Any
) -> str:
    """A voice of ``fan`` (also a creator) trained through the API, open for conversions."""
    cache: Path = tmp_path_factory.mktemp("speech")
    ref = upload(client, fan, speech("slt", 3, cache))
    r = client.post(
        "/v1/jobs",
        json={"kind": "train", "upload_ids": [ref], "name": "fuzz", "method": "baseline"},
        headers=fan,
    )
    assert r.status_code == 201, r.text
    job = wait_done(client, fan, r.json()["id"])
    assert job["status"] == "succeeded", job
    voice_id = str(job["voice_model_id"])
    activate(services, voice_id)
    version = client.get(f"/v1/voices/{voice_id}").json()["terms"]["version"]
    r = client.post(f"/v1/voices/{voice_id}/accept", json={"terms_version": version}, headers=fan)
    assert r.status_code == 200, r.text
    return voice_id


def _upload_row(services: Services, upload_id: str) -> tuple[str, int]:
    with services.db() as db:
        row = db.get(Upload, uuid.UUID(upload_id))
        assert row is not None
        return row.sha256, row.size_bytes


def _failed_job(
    client: TestClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    r = client.post("/v1/jobs", json=body, headers=headers)
    assert r.status_code == 201, r.text
    job = wait_done(client, headers, r.json()["id"])
    assert job["status"] == "failed", job
    assert job["result_sha256"] is None
    assert job["error"]["message"]
    return job


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: encode(np.sign(tone(2.0)).astype(np.float32)), "audio_clipped"),  # square wave
        (lambda: encode(np.full(2 * SR, 1e30, np.float32), "WAV", "FLOAT"), "audio_clipped"),
        (lambda: encode(tone(0.6)), "audio_too_short"),  # under the 1 s training needs
    ],
    ids=["all-clipped", "float-1e30", "too-short"],
)
def test_training_on_unusable_audio_fails_with_the_reason(
    client: TestClient,
    services: Services,
    fan: dict[str, str],
    make: Callable[[], bytes],
    code: str,
) -> None:
    upload_id = upload(client, fan, make())  # valid audio: the upload itself is accepted
    before = _upload_row(services, upload_id)
    job = _failed_job(
        client,
        fan,
        {"kind": "train", "upload_ids": [upload_id], "name": "bad", "method": "baseline"},
    )
    assert job["error"]["code"] == code
    with services.db() as db:
        vm = db.get(VoiceModel, uuid.UUID(job["voice_model_id"]))
        assert vm is not None and vm.artifact_sha256 is None and vm.status != "ready"
    assert _upload_row(services, upload_id) == before
    assert services.store.exists(before[0])


@pytest.mark.parametrize(
    "make",
    [
        lambda: encode(np.full(2 * SR, 1e30, np.float32), "WAV", "FLOAT"),  # 600 dBFS DC
        lambda: encode(np.full(2 * SR, 0.5, np.float32)),  # DC: no voice in it
    ],
    ids=["float-1e30", "dc-offset"],
)
def test_converting_audio_without_a_voice_fails_with_the_reason(
    client: TestClient,
    services: Services,
    fan: dict[str, str],
    voice: str,
    make: Callable[[], bytes],
) -> None:
    upload_id = upload(client, fan, make())
    before = _upload_row(services, upload_id)
    job = _failed_job(
        client,
        fan,
        {"kind": "convert", "upload_id": upload_id, "voice_model_id": voice},
    )
    assert job["error"]["code"] == "audio_too_short"  # "No voiced sound was found"
    assert _upload_row(services, upload_id) == before
