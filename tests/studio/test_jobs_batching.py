"""The GPU worker's inference path, on CPU: conversion chunks of concurrent jobs that share a
model are rendered in one batch (and come out as when each job runs alone), and the model
cache is bounded by bytes, evicts the least recently used model, never one in use, and loads
each model once under concurrency."""

from __future__ import annotations

import io
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from studio.db.models import VoiceModel as VoiceRow
from studio.jobs.model_cache import ModelCache, publish_artifact
from studio.services import Services
from tests.studio.speech import speech
from tests.studio.test_jobs import activate, upload, wait_done
from tests.studio.wallets import Wallet, sign_in
from voice_model.model import VoiceModel
from voice_model.neural import DecoderConfig
from voice_model.train import train

LSB = 1.0 / 32768
# A small decoder: the API trains the full-size one, minutes on CPU.
TINY = DecoderConfig(hidden=64, layers=2, steps=60, batch=8, speeds=(1.0,), views_per_speed=1)


def _reference(path: Path, speaker: str, sentences: int, cache: Path, start: int = 0) -> Path:
    path.write_bytes(speech(speaker, sentences, cache, start=start))
    return path


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Saved artifacts: a tiny neural voice and three baseline voices (trained once)."""
    root = tmp_path_factory.mktemp("artifacts")
    cache = root / "speech"
    cache.mkdir()
    out = {}
    ref = _reference(root / "slt.wav", "slt", 4, cache)
    model = train([ref], method="neural", device="cpu", decoder_cfg=TINY)
    model.save(root / "neural")
    out["neural"] = root / "neural"
    for i, speaker in enumerate(("slt", "awb", "rms")):
        ref = _reference(root / f"{speaker}-b.wav", speaker, 3, cache, start=3)
        train([ref], method="baseline", device="cpu").save(root / f"baseline{i}")
        out[f"baseline{i}"] = root / f"baseline{i}"
    return out


def _result_audio(services: Services, job: dict[str, object]) -> np.ndarray:
    body = b"".join(services.store.iter_bytes(str(job["result_sha256"])))
    audio, _ = sf.read(io.BytesIO(body), dtype="float32")
    return np.asarray(audio)


def test_concurrent_jobs_on_one_model_are_batched_and_match_running_alone(
    make_client: Callable[..., TestClient],
    artifacts: dict[str, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client(
        embedded_workers=2,
        render_batch_size=4,
        # long enough for both jobs to hand in their chunk; a lone job never waits
        render_batch_wait_ms=20_000.0,
        max_active_jobs_per_account=8,
    )
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    creator = sign_in(client, Wallet.new(), roles=("creator",))
    refs = [upload(client, creator, speech("slt", 2, tmp_path, start=6))]
    trained = client.post(
        "/v1/jobs",
        json={"kind": "train", "upload_ids": refs, "name": "Slt", "method": "baseline"},
        headers=creator,
    ).json()
    voice_id = wait_done(client, creator, trained["id"])["voice_model_id"]
    # the voice's artifact becomes the small neural one (published like a training job's)
    model_id = publish_artifact(services.store, artifacts["neural"])
    with services.db() as db:
        row = db.get(VoiceRow, uuid.UUID(voice_id))
        assert row is not None
        row.artifact_sha256, row.method = model_id, "neural"
        db.commit()
    activate(services, voice_id)
    fan = sign_in(client, Wallet.new(), roles=("fan",))
    client.post(f"/v1/voices/{voice_id}/accept", json={"terms_version": 1}, headers=fan)
    # two vocals of different lengths: the batch pads the shorter one
    uploads = [
        upload(client, fan, speech("awb", 1, tmp_path, start=10)),
        upload(client, fan, speech("rms", 2, tmp_path, start=12)),
    ]

    def submit(upload_id: str) -> str:
        body = {"kind": "convert", "upload_id": upload_id, "voice_model_id": voice_id}
        r = client.post("/v1/jobs", json=body, headers=fan)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    with caplog.at_level(logging.DEBUG, logger="studio.jobs.batcher"):
        alone = []
        for up in uploads:
            job = wait_done(client, fan, submit(up))
            assert job["status"] == "succeeded", job
            alone.append(job)
        alone_batches = [r.batch for r in caplog.records if r.msg == "rendered a batch"]  # type: ignore[attr-defined]
        assert alone_batches and set(alone_batches) == {1}
        caplog.clear()
        ids = [submit(up) for up in uploads]
        together = [wait_done(client, fan, i) for i in ids]
        batches = [r.batch for r in caplog.records if r.msg == "rendered a batch"]  # type: ignore[attr-defined]
    assert all(j["status"] == "succeeded" for j in together), together
    assert max(batches) == 2  # the two jobs' chunks were rendered in one batch

    for a, b in zip(alone, together, strict=True):
        if a["result_sha256"] == b["result_sha256"]:
            continue  # byte for byte the same
        x, y = _result_audio(services, a), _result_audio(services, b)
        # else the same up to one 16-bit step on a few samples: the batched float kernels
        # may round differently in the last bit
        assert x.shape == y.shape
        assert float(np.max(np.abs(x - y))) <= LSB * 1.01
        assert float(np.mean(x != y)) < 0.01


def _published(services: Services, artifacts: dict[str, Path], n: int) -> list[str]:
    return [publish_artifact(services.store, artifacts[f"baseline{i}"]) for i in range(n)]


def test_model_cache_is_bounded_by_bytes_and_never_evicts_a_model_in_use(
    services: Services, artifacts: dict[str, Path], tmp_path: Path
) -> None:
    a, b, c = _published(services, artifacts, 3)
    size = VoiceModel.load(artifacts["baseline0"], device="cpu").nbytes()
    assert size > 0
    cache = ModelCache(
        services.store, tmp_path / "models", capacity=10, device="cpu", max_bytes=2 * size
    )
    with cache.lease(a) as held:
        assert held.model.model_id == a
        cache.get(b)
        assert cache.loaded() == [a, b] and cache.nbytes == 2 * size
        cache.get(c)  # over budget: b goes, a is in use and stays
        assert cache.loaded() == [a, c]
        assert (tmp_path / "models" / a).exists() and not (tmp_path / "models" / b).exists()
        assert cache.nbytes <= 2 * size
    assert cache.loads == 3
    cache.get(c)  # a hit: c is now the most recently used
    cache.get(b)  # loaded again; a, no longer in use, is the least recently used
    assert cache.loaded() == [c, b] and cache.loads == 4
    # a model alone larger than the budget is still served (and kept while it is the last)
    small = ModelCache(services.store, tmp_path / "small", capacity=10, device="cpu", max_bytes=1)
    assert small.get(a).model_id == a and small.loaded() == [a]
    small.get(b)
    assert small.loaded() == [b]
    # the count bound still applies
    two = ModelCache(services.store, tmp_path / "two", capacity=2, device="cpu")
    for m in (a, b, c):
        two.get(m)
    assert two.loaded() == [b, c]


def test_model_cache_loads_each_model_once_under_concurrency(
    services: Services, artifacts: dict[str, Path], tmp_path: Path
) -> None:
    (model_id,) = _published(services, artifacts, 1)
    cache = ModelCache(services.store, tmp_path / "models", capacity=4, device="cpu")
    start = threading.Barrier(6)
    got: list[VoiceModel] = []
    lock = threading.Lock()

    def take() -> None:
        start.wait()
        with cache.lease(model_id) as loaded:
            time.sleep(0.05)
            with lock:
                got.append(loaded.model)

    threads = [threading.Thread(target=take) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(got) == 6 and all(m is got[0] for m in got)
    assert cache.loads == 1 and cache.loaded() == [model_id]


def test_a_failing_chunk_fails_only_its_own_caller() -> None:
    from studio.jobs.batcher import MicroBatcher

    def render(items: list[int]) -> list[int]:
        if any(i < 0 for i in items):
            raise ValueError("negative")
        return [2 * i for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(render, max_batch=8, max_wait_s=5.0, name="t")
    results: dict[int, object] = {}

    both_in = threading.Barrier(2)

    def call(x: int) -> None:
        with batcher.client():
            both_in.wait()
            try:
                results[x] = batcher.render([x, x + 1])
            except ValueError as exc:
                results[x] = exc

    # two clients: the batch waits for both, renders one batch of 4, falls back to one by one
    threads = [threading.Thread(target=call, args=(x,)) for x in (3, -1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    batcher.close()
    assert results[3] == [6, 8]
    assert isinstance(results[-1], ValueError)
    assert batcher.stats.largest == 4 and batcher.stats.batches == 1
    assert batcher.idle
