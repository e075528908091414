"""Scale mode: conversions through Celery with the machine's Redis and real ``timbre worker``
processes; a worker SIGKILLed mid-job has its job re-run by another worker, finished once."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
import soundfile as sf
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from studio.db.models import Job, JobEvent
from studio.services import Services
from tests.studio.audio_files import encode
from tests.studio.speech import SR, speech
from tests.studio.test_jobs import activate, upload, wait_done
from tests.studio.wallets import Wallet, sign_in

REDIS_URL = os.environ.get("TIMBRE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def celery_env(
    s3_server: Any, postgres_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:  # a named requirement: fail, never skip
        pytest.fail(f"Redis at {REDIS_URL} is required: {exc}")
    return {
        "TIMBRE_ENVIRONMENT": "test",
        "TIMBRE_SECRET_KEY": "celery-test-secret-0123456789abcdef0123",
        "TIMBRE_PUBLIC_URL": "http://testserver",
        "TIMBRE_DATABASE_URL": postgres_database(),
        "TIMBRE_OBJECT_STORE": "s3",
        "TIMBRE_S3_ENDPOINT": s3_server.endpoint,
        "TIMBRE_S3_ACCESS_KEY": s3_server.access_key,
        "TIMBRE_S3_SECRET_KEY": s3_server.secret_key,
        "TIMBRE_S3_BUCKET": f"celery-{uuid.uuid4().hex[:8]}",
        "TIMBRE_JOB_BROKER": "celery",
        "TIMBRE_BROKER_URL": REDIS_URL,
        "TIMBRE_CELERY_QUEUE": f"timbre-test-{uuid.uuid4().hex[:8]}",
        "TIMBRE_CELERY_VISIBILITY_TIMEOUT_S": "4",
        "TIMBRE_JOB_STALE_AFTER_S": "3",
        "TIMBRE_JOB_HEARTBEAT_S": "0.5",
        "TIMBRE_DEVICE": "cpu",
        "TIMBRE_VAR_DIR": str(tmp_path_factory.mktemp("celery-api")),
    }


class Workers:
    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.env, self.root, self.procs = env, root, []  # type: ignore[var-annotated]

    def start(
        self, name: str, *, concurrency: int = 1, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        var = self.root / name
        var.mkdir(parents=True, exist_ok=True)
        with (var / "worker.log").open("wb") as log:
            proc = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "timbre"),
                    "worker",
                    f"--concurrency={concurrency}",
                ],
                env={**os.environ, **self.env, **(env or {}), "TIMBRE_VAR_DIR": str(var)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def api(celery_env: dict[str, str], monkeypatch_module: pytest.MonkeyPatch) -> Iterator[TestClient]:
    from studio.app import create_app
    from studio.db.migrate import upgrade
    from studio.settings import Settings

    for key, value in celery_env.items():
        monkeypatch_module.setenv(key, value)
    settings = Settings()
    upgrade(settings.resolved_database_url)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture
def workers(celery_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    w = Workers(celery_env, tmp_path)
    yield w
    w.stop_all()


def _services(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined, no-any-return]


def test_conversion_end_to_end_and_worker_killed_mid_job(
    api: TestClient, workers: Workers, tmp_path: Path
) -> None:
    services = _services(api)
    workers.start("a")
    creator = sign_in(api, Wallet.new(), roles=("creator",))
    refs = [upload(api, creator, speech("slt", 3, tmp_path, start=i * 3)) for i in range(2)]
    train = api.post(
        "/v1/jobs",
        json={"kind": "train", "upload_ids": refs, "name": "Slt", "method": "baseline"},
        headers=creator,
    ).json()
    trained = wait_done(api, creator, train["id"])
    assert trained["status"] == "succeeded", trained
    voice_id = trained["voice_model_id"]
    activate(services, voice_id)

    fan = sign_in(api, Wallet.new(), roles=("fan",))
    api.post(f"/v1/voices/{voice_id}/accept", json={"terms_version": 1}, headers=fan)
    short = upload(api, fan, speech("awb", 1, tmp_path, start=10))
    body = {"kind": "convert", "upload_id": short, "voice_model_id": voice_id}
    done = wait_done(api, fan, api.post("/v1/jobs", json=body, headers=fan).json()["id"])
    assert done["status"] == "succeeded" and done["attempts"] == 1

    # a long vocal (~2 minutes) so the worker is surely mid-conversion when it dies
    clip, _ = sf.read(io.BytesIO(speech("awb", 6, tmp_path, start=10)), dtype="float32")
    sentence = np.tile(clip, max(1, int(120 * SR / len(clip))))
    long_id = upload(api, fan, encode(sentence, sr=SR))
    job = api.post("/v1/jobs", json={**body, "upload_id": long_id}, headers=fan).json()
    victim = workers.procs[0]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = api.get(f"/v1/jobs/{job['id']}", headers=fan).json()
        if status["status"] == "running" and status["percent"] > 5:
            break
        time.sleep(0.02)
    assert status["status"] == "running", status
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)

    workers.start("b")
    finished = wait_done(api, fan, job["id"])
    assert finished["status"] == "succeeded", finished
    assert finished["attempts"] == 2
    with services.db() as db:
        done_events = db.scalar(
            select(func.count(JobEvent.id)).where(
                JobEvent.job_id == uuid.UUID(job["id"]), JobEvent.status == "succeeded"
            )
        )
        row = db.get(Job, uuid.UUID(job["id"]))
    assert done_events == 1  # reported done exactly once
    assert row is not None and row.result_sha256 is not None
    assert services.store.exists(row.result_sha256)
    # give a duplicate delivery time to show up: it must not run the job again
    time.sleep(5)
    assert api.get(f"/v1/jobs/{job['id']}", headers=fan).json()["attempts"] == 2


def test_a_threaded_worker_batches_the_chunks_of_concurrent_conversions(
    api: TestClient, workers: Workers, tmp_path: Path
) -> None:
    """``timbre worker --concurrency 2`` runs two jobs in threads sharing one model cache, so
    their chunks meet in the model's micro-batcher."""
    services = _services(api)
    proc = workers.start("threads", concurrency=2, env={"TIMBRE_RENDER_BATCH_WAIT_MS": "20000"})
    creator = sign_in(api, Wallet.new(), roles=("creator",))
    refs = [upload(api, creator, speech("rms", 3, tmp_path, start=0))]
    body = {"kind": "train", "upload_ids": refs, "name": "Rms", "method": "baseline"}
    trained = wait_done(api, creator, api.post("/v1/jobs", json=body, headers=creator).json()["id"])
    assert trained["status"] == "succeeded", trained
    voice_id = trained["voice_model_id"]
    activate(services, voice_id)
    fan = sign_in(api, Wallet.new(), roles=("fan",))
    api.post(f"/v1/voices/{voice_id}/accept", json={"terms_version": 1}, headers=fan)
    ids = []
    for start, sentences in ((10, 1), (12, 2)):
        up = upload(api, fan, speech("awb", sentences, tmp_path, start=start))
        job = {"kind": "convert", "upload_id": up, "voice_model_id": voice_id}
        ids.append(api.post("/v1/jobs", json=job, headers=fan).json()["id"])
    done = [wait_done(api, fan, job_id) for job_id in ids]
    assert all(j["status"] == "succeeded" for j in done), done
    assert all(services.store.exists(j["result_sha256"]) for j in done)
    assert proc.poll() is None
    log = (tmp_path / "threads" / "worker.log").read_text(errors="replace").splitlines()
    figures = [
        json.loads(line) for line in log if line.startswith("{") and '"model batching"' in line
    ]
    assert figures and max(f["largest"] for f in figures) == 2, log[-20:]
