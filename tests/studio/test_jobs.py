"""Jobs in embedded mode: a creator trains a voice, a fan converts with it (upload → job →
SSE progress → downloaded result), plus cancel, idempotency, licensing refusals, quotas and
the recovery of jobs whose worker died."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from sqlalchemy import select

from studio.db.models import Account, Job, ModelTerms, VoiceModel
from studio.jobs import store as jobs
from studio.jobs.embedded import reap
from studio.services import Services
from tests.studio.audio_files import wav
from tests.studio.speech import speech
from tests.studio.wallets import Wallet, sign_in

JOB_TIMEOUT_S = 240


def upload(client: TestClient, headers: dict[str, str], data: bytes) -> str:
    r = client.post("/v1/uploads", files={"file": ("a.wav", data, "audio/wav")}, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def wait_done(client: TestClient, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def activate(services: Services, voice_id: str, *, version: int = 1, price: int = 5000) -> None:
    """Record creator-signed terms for a voice directly (the signature path is tested with a
    real registry in test_voices.py)."""
    now = services.clock()
    with services.db() as db:
        vm = db.get(VoiceModel, uuid.UUID(voice_id))
        assert vm is not None
        creator = db.get(Account, vm.creator_id)
        assert creator is not None
        db.add(
            ModelTerms(
                voice_model_id=vm.id,
                version=version,
                payout_address=creator.address,
                creator_bps=5000,
                fan_bps=4000,
                platform_bps=1000,
                price_per_play=price,
                approval_required=False,
                nonce=str(version),
                deadline=now + timedelta(days=1),
                signature="0x" + "11" * 65,
                status="pending",
                created_at=now,
            )
        )
        vm.status = "registered"
        db.commit()


@pytest.fixture(scope="module")
def speech_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="module")
def trained_voice(
    client: TestClient, services: Services, speech_cache: Path
) -> tuple[str, dict[str, str]]:
    """A creator's voice trained through the API (baseline method: seconds on CPU)."""
    creator = sign_in(client, Wallet.new(), roles=("creator",))
    refs = [upload(client, creator, speech("slt", 3, speech_cache, start=i * 3)) for i in range(2)]
    r = client.post(
        "/v1/jobs",
        json={"kind": "train", "upload_ids": refs, "name": "Slt", "method": "baseline"},
        headers=creator,
    )
    assert r.status_code == 201, r.text
    job = wait_done(client, creator, r.json()["id"])
    assert job["status"] == "succeeded", job
    return str(job["voice_model_id"]), creator


def test_training_produces_a_usable_model(
    client: TestClient, services: Services, trained_voice: tuple[str, dict[str, str]]
) -> None:
    voice_id, creator = trained_voice
    mine = client.get("/v1/voices/mine", headers=creator).json()
    voice = next(v for v in mine if v["id"] == voice_id)
    assert voice["status"] == "ready" and voice["method"] == "baseline"
    assert services.store.exists(voice["artifact_sha256"])  # the card, addressed by sha256
    card = json.loads(b"".join(services.store.iter_bytes(voice["artifact_sha256"])))
    assert services.store.exists(card["weights_sha256"])
    # not public until its creator signs terms
    assert client.get(f"/v1/voices/{voice_id}").status_code == 404
    assert voice_id not in {v["id"] for v in client.get("/v1/voices").json()}


def test_fan_converts_and_downloads_with_ordered_progress(
    client: TestClient,
    services: Services,
    trained_voice: tuple[str, dict[str, str]],
    speech_cache: Path,
) -> None:
    voice_id, _ = trained_voice
    activate(services, voice_id)
    fan = sign_in(client, Wallet.new(), roles=("fan",))
    vocal = speech("awb", 1, speech_cache, start=10)
    upload_id = upload(client, fan, vocal)
    terms = client.get(f"/v1/voices/{voice_id}").json()["terms"]
    accepted = client.post(
        f"/v1/voices/{voice_id}/accept", json={"terms_version": terms["version"]}, headers=fan
    )
    assert accepted.status_code == 200, accepted.text

    r = client.post(
        "/v1/jobs",
        json={
            "kind": "convert",
            "upload_id": upload_id,
            "voice_model_id": voice_id,
            "transpose": 2,
        },
        headers=fan,
    )
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]

    events = []
    with client.stream("GET", f"/v1/jobs/{job_id}/events", headers=fan) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert events[0]["status"] == "queued" and events[-1]["status"] == "succeeded"
    running = [e["percent"] for e in events if e["status"] == "running"]
    assert running == sorted(running)

    result = client.get(f"/v1/jobs/{job_id}/result", headers=fan).json()
    url = result["url"]
    body = (
        client.get(url).content if url.startswith("http://testserver") else httpx.get(url).content
    )
    audio, sr = sf.read(io.BytesIO(body))
    original, osr = sf.read(io.BytesIO(vocal))
    assert abs(len(audio) / sr - len(original) / osr) < 0.1
    assert result["sha256"] == services.store.stat(result["sha256"]).sha256

    # resuming the stream after the last event gives nothing more and ends
    with client.stream(
        "GET", f"/v1/jobs/{job_id}/events", headers={**fan, "Last-Event-ID": str(ids[-1])}
    ) as stream:
        assert [line for line in stream.iter_lines() if line.startswith("data: ")] == []


def test_licensing_refusals(
    client: TestClient, services: Services, trained_voice: tuple[str, dict[str, str]]
) -> None:
    voice_id, creator = trained_voice
    fan = sign_in(client, Wallet.new(), roles=("fan",))
    upload_id = upload(client, fan, wav(1.0))

    def convert(voice: str = voice_id, headers: dict[str, str] = fan) -> httpx.Response:
        body = {"kind": "convert", "upload_id": upload_id, "voice_model_id": voice}
        return client.post("/v1/jobs", json=body, headers=headers)  # type: ignore[return-value]

    r = convert(str(uuid.uuid4()))
    assert (r.status_code, r.json()["error"]["code"]) == (404, "voice_not_found")
    with services.db() as db:
        registered = db.get(VoiceModel, uuid.UUID(voice_id)).status == "registered"  # type: ignore[union-attr]
    if not registered:
        activate(services, voice_id)
    r = convert()
    assert (r.status_code, r.json()["error"]["code"]) == (403, "terms_not_accepted")
    version = client.get(f"/v1/voices/{voice_id}").json()["terms"]["version"]
    stale = client.post(
        f"/v1/voices/{voice_id}/accept", json={"terms_version": version + 1}, headers=fan
    )
    assert (stale.status_code, stale.json()["error"]["code"]) == (409, "terms_outdated")
    # a creator's own role does not make them a fan; another fan cannot use this fan's upload
    other = sign_in(client, Wallet.new(), roles=("fan",))
    client.post(f"/v1/voices/{voice_id}/accept", json={"terms_version": version}, headers=other)
    r = convert(headers=other)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "upload_not_found")
    r = client.post(
        "/v1/jobs", json={"kind": "train", "upload_ids": [upload_id], "name": "x"}, headers=fan
    )
    assert (r.status_code, r.json()["error"]["code"]) == (403, "role_required")

    # new terms need a new acceptance
    activate(services, voice_id, version=version + 1)
    client.post(f"/v1/voices/{voice_id}/accept", json={"terms_version": version}, headers=fan)
    assert convert().json()["error"]["code"] in {"terms_not_accepted", "terms_outdated"}

    # a retired voice refuses new conversions even for fans who accepted its terms
    ok = client.post(
        f"/v1/voices/{voice_id}/accept", json={"terms_version": version + 1}, headers=fan
    )
    assert ok.status_code == 200
    assert client.post(f"/v1/voices/{voice_id}/retire", headers=fan).status_code == 403
    assert client.post(f"/v1/voices/{voice_id}/retire", headers=creator).status_code == 200
    r = convert()
    assert (r.status_code, r.json()["error"]["code"]) == (409, "voice_retired")
    with services.db() as db:
        mine = db.scalars(select(Job).where(Job.input_upload_id == uuid.UUID(upload_id))).all()
    assert mine == []  # no refusal created a job


@pytest.fixture
def idle_client(make_client: Callable[..., TestClient]) -> TestClient:
    """An app whose jobs stay queued (no workers), with small quotas."""
    return make_client(embedded_workers=0, max_active_jobs_per_account=2, max_jobs_per_day=3)


def _train_body(upload_id: str, name: str = "v") -> dict[str, Any]:
    return {"kind": "train", "upload_ids": [upload_id], "name": name, "method": "baseline"}


def test_idempotent_create(idle_client: TestClient) -> None:
    creator = sign_in(idle_client, Wallet.new(), roles=("creator",))
    up = upload(idle_client, creator, wav(1.0))
    key = {"Idempotency-Key": "take-1"}
    first = idle_client.post("/v1/jobs", json=_train_body(up), headers={**creator, **key})
    again = idle_client.post("/v1/jobs", json=_train_body(up), headers={**creator, **key})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = idle_client.post("/v1/jobs", json=_train_body(up, "w"), headers={**creator, **key})
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_conflict")
    assert len(idle_client.get("/v1/jobs", headers=creator).json()) == 1


def test_cancel(idle_client: TestClient) -> None:
    creator = sign_in(idle_client, Wallet.new(), roles=("creator",))
    up = upload(idle_client, creator, wav(1.0))
    job = idle_client.post("/v1/jobs", json=_train_body(up), headers=creator).json()
    r = idle_client.post(f"/v1/jobs/{job['id']}/cancel", headers=creator)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    again = idle_client.post(f"/v1/jobs/{job['id']}/cancel", headers=creator)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "job_finished")
    stranger = sign_in(idle_client, Wallet.new(), roles=("creator",))
    assert idle_client.post(f"/v1/jobs/{job['id']}/cancel", headers=stranger).status_code == 404
    assert idle_client.get(f"/v1/jobs/{job['id']}/result", headers=creator).status_code == 409
    # the upload survives the cancelled job
    assert idle_client.get(f"/v1/uploads/{up}", headers=creator).status_code == 200


def test_quotas_answer_429(idle_client: TestClient) -> None:
    creator = sign_in(idle_client, Wallet.new(), roles=("creator",))
    up = upload(idle_client, creator, wav(1.0))
    ids = [
        idle_client.post("/v1/jobs", json=_train_body(up), headers=creator).json()["id"]
        for _ in range(2)
    ]
    r = idle_client.post("/v1/jobs", json=_train_body(up), headers=creator)
    assert (r.status_code, r.json()["error"]["code"]) == (429, "too_many_active_jobs")
    idle_client.post(f"/v1/jobs/{ids[0]}/cancel", headers=creator)
    assert idle_client.post("/v1/jobs", json=_train_body(up), headers=creator).status_code == 201
    for job_id in ids[1:]:
        idle_client.post(f"/v1/jobs/{job_id}/cancel", headers=creator)
    r = idle_client.post("/v1/jobs", json=_train_body(up), headers=creator)
    assert (r.status_code, r.json()["error"]["code"]) == (429, "job_quota_exceeded")


def test_jobs_of_a_dead_worker_are_requeued_then_failed(idle_client: TestClient) -> None:
    services: Services = idle_client.app.state.services  # type: ignore[attr-defined]
    creator = sign_in(idle_client, Wallet.new(), roles=("creator",))
    up = upload(idle_client, creator, wav(1.0))
    job_id = uuid.UUID(
        idle_client.post("/v1/jobs", json=_train_body(up), headers=creator).json()["id"]
    )
    long_ago = services.clock() - timedelta(hours=1)
    for attempt in range(1, 4):
        with services.db() as db:
            job = jobs.claim(db, f"dead-{attempt}", long_ago, job_id=job_id)
            assert job is not None and job.attempts == attempt
        reap(services)
        # the dead worker's late writes change nothing
        with services.db() as db:
            assert not jobs.succeed(db, job_id, f"dead-{attempt}", "0" * 64, services.clock())
    status = idle_client.get(f"/v1/jobs/{job_id}", headers=creator).json()
    assert status["status"] == "failed" and status["error"]["code"] == "worker_lost"
    assert status["result_sha256"] is None


def test_a_job_whose_dispatch_failed_stays_queued_and_is_sent_again(
    idle_client: TestClient,
) -> None:
    services: Services = idle_client.app.state.services  # type: ignore[attr-defined]

    def broker_down(_job_id: uuid.UUID) -> None:
        raise ConnectionError("broker unreachable")

    sent: list[uuid.UUID] = []
    original = services.dispatch
    services.dispatch = broker_down
    try:
        creator = sign_in(idle_client, Wallet.new(), roles=("creator",))
        up = upload(idle_client, creator, wav(1.0))
        r = idle_client.post("/v1/jobs", json=_train_body(up), headers=creator)
    finally:
        services.dispatch = original
    assert r.status_code == 201 and r.json()["status"] == "queued"  # safe in the DB
    job_id = uuid.UUID(r.json()["id"])
    later = services.clock() + timedelta(seconds=10)
    with services.db() as db:
        assert job_id in jobs.undispatched(db, later, timedelta(minutes=10))
        jobs.mark_dispatched(db, job_id, later)
        sent.extend(jobs.undispatched(db, later, timedelta(minutes=10)))
    assert job_id not in sent  # once handed over, not sent again until the message may be lost
