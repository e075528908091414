"""Fault injection against the scale-mode cluster, each fault bounded in time: what the platform
reports while a dependency is gone, that it recovers when the dependency returns, and that no
upload, job, play, voucher or unit of money is lost or counted twice.

Covered elsewhere and not repeated here: a worker SIGKILLed mid-job
(``tests/studio/test_jobs_celery.py``) and settlement crashes injected between claim and
propose and after propose (``tests/studio/test_settlement.py``). ``docs/faults.md`` is the
table of what these tests assert."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest
import redis

from contracts.deploy import Contracts, connect
from royalties.report import load_report
from tests.scale.actors import (
    Headers,
    Platform,
    follow_events,
    ok,
    open_platform,
    sha256_of,
    sign_in,
    sign_terms,
    upload,
    wait_job,
)
from tests.scale.cluster import FIRST_PLATFORM, Cluster, Proc, restart_seaweed, wait_until
from tests.studio.audio_files import encode
from tests.studio.speech import speech
from tests.studio.wallets import Wallet

PRICE = 2000
PLAY_AGE_S = 290  # see test_scale.py


@dataclass
class Stage:
    """What the faults act on: a published track, a fan, two funded platforms."""

    creator: Headers
    fan: Headers
    voice_id: str
    track: dict[str, Any]
    platforms: list[Platform]
    contracts: Contracts


@pytest.fixture(scope="module")
def stage(cluster: Cluster, clients: tuple[httpx.Client, httpx.Client], speech_cache: Any) -> Stage:
    a, b = clients
    creator = Wallet.new()
    hc = sign_in(cluster, a, b, creator, roles=("creator",))
    refs = [upload(a, hc, speech("rms", 3, speech_cache, start=i * 3)) for i in range(2)]
    body = {"kind": "train", "upload_ids": refs, "name": "Rms", "method": "baseline"}
    train = ok(b.post("/v1/jobs", json=body, headers=hc), 201)
    assert follow_events(a, hc, train["id"])[-1]["status"] == "succeeded"
    voice_id = ok(a.get(f"/v1/jobs/{train['id']}", headers=hc))["voice_model_id"]
    sign_terms(cluster, a, b, creator, hc, voice_id, price=PRICE)
    hf = sign_in(cluster, b, a, Wallet.new(), roles=("fan",))
    ok(b.post(f"/v1/voices/{voice_id}/accept", json={"terms_version": 1}, headers=hf))
    vocal = upload(a, hf, speech("kal", 1, speech_cache, start=12))
    body = {"kind": "convert", "upload_id": vocal, "voice_model_id": voice_id}
    job = wait_job(b, hf, ok(a.post("/v1/jobs", json=body, headers=hf), 201)["id"])
    assert job["status"] == "succeeded", job
    track = ok(b.post("/v1/tracks", json={"job_id": job["id"], "title": "f"}, headers=hf), 201)
    platforms = [
        open_platform(cluster, a, b, FIRST_PLATFORM + i, name=f"p{i}", deposit=1_000_000)
        for i in range(2)
    ]
    return Stage(hc, hf, voice_id, track, platforms, connect(cluster.w3(), cluster.deployment))


def _readiness(client: httpx.Client) -> tuple[int, dict[str, bool]]:
    r = client.get("/readyz", timeout=30)
    return r.status_code, {b["name"]: b["ok"] for b in r.json()["backends"]}


def _object_keys(cluster: Cluster) -> set[str]:
    listed = cluster.s3.client().list_objects(
        cluster.env["TIMBRE_S3_BUCKET"], prefix="sha256/", recursive=True
    )
    return {(o.object_name or "").removeprefix("sha256/") for o in listed}


def _long_wav(seconds: float, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    audio = 0.2 * np.sin(2 * np.pi * 180 * t) + 0.01 * rng.standard_normal(t.size)
    return encode(audio.astype(np.float32))


# --- API process SIGKILLed mid-upload ---------------------------------------------------------


def test_api_killed_during_an_upload(
    cluster: Cluster, clients: tuple[httpx.Client, httpx.Client], stage: Stage
) -> None:
    a, b = clients
    data = _long_wav(60, seed=1)  # ~1.9 MB, streamed slowly
    digest = hashlib.sha256(data).hexdigest()
    uploads_before = {u["sha256"] for u in ok(b.get("/v1/uploads", headers=stage.fan))}
    keys_before = _object_keys(cluster)
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="long.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    sent_half = threading.Event()
    outcome: dict[str, object] = {}

    def body() -> Iterator[bytes]:
        yield head
        chunk = 64 * 1024
        for i in range(0, len(data), chunk):
            if i > len(data) // 2:
                sent_half.set()
            yield data[i : i + chunk]
            time.sleep(0.05)
        yield f"\r\n--{boundary}--\r\n".encode()

    def send() -> None:
        try:
            r = a.post(
                "/v1/uploads",
                content=body(),
                headers={
                    **stage.fan,
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                },
            )
            outcome["status"] = r.status_code
        except httpx.HTTPError as exc:
            outcome["error"] = type(exc).__name__

    client_thread = threading.Thread(target=send)
    client_thread.start()
    assert sent_half.wait(30)
    victim = cluster.apis[0]
    victim.kill()
    client_thread.join(30)
    assert "error" in outcome, outcome  # the client saw the connection die, no 201

    # The other process keeps serving; the half-sent file is nowhere to be seen.
    assert _readiness(b)[0] == 200
    assert {u["sha256"] for u in ok(b.get("/v1/uploads", headers=stage.fan))} == uploads_before
    assert digest not in _object_keys(cluster) and _object_keys(cluster) == keys_before

    # Restarted, the process takes the same upload whole, stored under its verified hash.
    cluster.restart_api(victim)
    uploaded = ok(a.post("/v1/uploads", files={"file": ("long.wav", data)}, headers=stage.fan), 201)
    assert uploaded["sha256"] == digest
    assert _object_keys(cluster) == keys_before | {digest}
    url = ok(b.get(f"/v1/uploads/{uploaded['id']}/url", headers=stage.fan))["url"]
    assert sha256_of(url) == digest


# --- S3 server restart -------------------------------------------------------------------------


def test_object_store_restart(
    cluster: Cluster, clients: tuple[httpx.Client, httpx.Client], stage: Stage
) -> None:
    a, b = clients
    before = ok(a.get("/v1/uploads", headers=stage.fan))
    cluster.s3.stop()
    try:
        status, backends = _readiness(a)
        assert status == 503 and backends.pop("object_store") is False
        assert all(backends.values()), backends  # only the store is reported down
        r = b.post("/v1/uploads", files={"file": ("x.wav", _long_wav(1, 2))}, headers=stage.fan)
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "storage_unavailable"
        assert ok(a.get("/v1/voices"))  # the catalogue (database only) still answers
    finally:
        restart_seaweed(cluster.s3)
    wait_until(lambda: _readiness(a)[0] == 200 and _readiness(b)[0] == 200, "ready again", 30)
    for u in before:  # every stored upload survived, byte for byte
        url = ok(b.get(f"/v1/uploads/{u['id']}/url", headers=stage.fan))["url"]
        assert sha256_of(url) == u["sha256"]
    data = _long_wav(1, 3)
    r = b.post("/v1/uploads", files={"file": ("y.wav", data)}, headers=stage.fan)
    assert ok(r, 201)["sha256"] == hashlib.sha256(data).hexdigest()


# --- Redis (broker and rate-limit counters) restart ---------------------------------------------


def test_redis_restart(
    cluster: Cluster, clients: tuple[httpx.Client, httpx.Client], stage: Stage
) -> None:
    a, b = clients
    uploaded = upload(a, stage.fan, _long_wav(2, 4))
    jobs_before = {j["id"] for j in ok(a.get("/v1/jobs", headers=stage.fan))}
    # a job queued just before the outage must survive it
    queued = ok(
        a.post(
            "/v1/jobs",
            json={"kind": "convert", "upload_id": uploaded, "voice_model_id": stage.voice_id},
            headers=stage.fan,
        ),
        201,
    )
    cluster.redis.stop()
    try:
        status, backends = _readiness(b)
        assert status == 503 and not backends["job_broker"] and backends["database"]
        assert backends.get("rate_limits") is False  # the counters live in the same Redis
        assert ok(b.get("/v1/voices"))  # reads need no Redis
        assert ok(a.get(f"/v1/jobs/{queued['id']}", headers=stage.fan))
        r = b.post(
            "/v1/jobs",
            json={"kind": "convert", "upload_id": uploaded, "voice_model_id": stage.voice_id},
            headers=stage.fan,
        )
        assert r.status_code == 503, r.text  # refused while the broker is gone ...
        assert r.json()["error"]["code"] == "rate_limiter_unavailable"
        created = {j["id"] for j in ok(a.get("/v1/jobs", headers=stage.fan))}
        assert created == jobs_before | {queued["id"]}  # ... and nothing half-created
    finally:
        cluster.redis.start()
    wait_until(lambda: _readiness(a)[0] == 200 and _readiness(b)[0] == 200, "ready again", 30)
    assert wait_job(b, stage.fan, queued["id"], timeout_s=120)["status"] == "succeeded"
    again = ok(
        b.post(
            "/v1/jobs",
            json={"kind": "convert", "upload_id": uploaded, "voice_model_id": stage.voice_id},
            headers=stage.fan,
        ),
        201,
    )
    assert wait_job(a, stage.fan, again["id"], timeout_s=120)["status"] == "succeeded"


def test_redis_outage_is_reported_as_unavailable(
    cluster: Cluster, clients: tuple[httpx.Client, httpx.Client], stage: Stage
) -> None:
    _, b = clients
    cluster.redis.stop()
    try:
        r = b.post("/v1/me/roles", json={"role": "fan"}, headers=stage.fan)
    finally:
        cluster.redis.start()
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "rate_limiter_unavailable"
    assert r.headers["retry-after"]


def test_a_job_whose_dispatch_failed_still_runs(
    cluster: Cluster, clients: tuple[httpx.Client, httpx.Client], stage: Stage
) -> None:
    a, b = clients
    uploaded = upload(a, stage.fan, _long_wav(2, 5))
    before = {j["id"] for j in ok(a.get("/v1/jobs", headers=stage.fan))}
    admin = redis.Redis(port=cluster.redis.port)
    # the broker refuses the publish (LPUSH) only: rate-limit counters keep working
    admin.execute_command("ACL", "SETUSER", "default", "-lpush")
    try:
        r = b.post(
            "/v1/jobs",
            json={"kind": "convert", "upload_id": uploaded, "voice_model_id": stage.voice_id},
            headers=stage.fan,
        )
    finally:
        admin.execute_command("ACL", "SETUSER", "default", "+lpush")
        admin.close()
    assert r.status_code in (201, 503), r.text  # accepted (sent later) or refused, never 500
    created = [j for j in ok(a.get("/v1/jobs", headers=stage.fan)) if j["id"] not in before]
    # either nothing was created, or what was created still runs once the broker is back
    for job in created:
        assert wait_job(a, stage.fan, job["id"], timeout_s=45)["status"] == "succeeded"


# --- settlement SIGKILLed mid-epoch --------------------------------------------------------------


def test_settlement_killed_mid_epoch(
    cluster: Cluster, clients: tuple[httpx.Client, httpx.Client], stage: Stage
) -> None:
    a, b = clients
    stamp = int(time.time()) - PLAY_AGE_S
    plays = []
    for i in range(6):
        p = stage.platforms[i % 2]
        r = (a, b)[i % 3 % 2].post(
            "/v1/access",
            json=p.access_body(stage.track, PRICE, stamp),
            headers={"X-API-Key": p.api_key},
        )
        plays.append(ok(r, 201))
    epoch = plays[0]["epoch"]
    assert {p["epoch"] for p in plays} == {epoch}
    d = cluster.deployment
    time.sleep(max(0.0, d.epoch_genesis + (epoch + 1) * d.epoch_length_s + 301 - time.time()))
    cluster.chain.catch_up()

    escrow, distributor = stage.contracts.escrow, stage.contracts.distributor
    first_block = int(cluster.w3().eth.block_number) + 1

    def redeemed() -> list[Any]:
        return list(escrow.events.VoucherRedeemed.get_logs(from_block=first_block))

    settler = Proc(
        "settle",
        [*cluster.run_cli_argv("settle")],
        cluster.cli_env(),
        cluster.root / "logs/settle.log",
    )
    settler.start()
    try:
        wait_until(redeemed, "the claim transaction", 120, every_s=0.01)
    finally:
        settler.kill()  # right after the claim: before (or just after) the root is proposed
    assert not settler.alive()

    resumed = cluster.settle()
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    view = ok(b.get(f"/v1/epochs/{epoch}"))
    assert view["status"] == "proposed", view
    # exactly one claim per channel and one root for the epoch, whatever the kill interrupted
    per_channel = sorted(int(e["args"]["channelId"]) for e in redeemed())
    assert per_channel == sorted(p.channel_id for p in stage.platforms)
    roots = distributor.events.RootProposed.get_logs(
        from_block=first_block, argument_filters={"epoch": epoch}
    )
    assert len(roots) == 1
    report = load_report(
        cluster.s3.client()
        .get_object(cluster.env["TIMBRE_S3_BUCKET"], f"sha256/{view['report_sha256']}")
        .read()
    )
    charged = sum(
        int(ok(a.get("/v1/channels/mine", headers=p.headers))["charged"]) for p in stage.platforms
    )
    assert report.entitlements.gross == charged == 6 * PRICE
    assert sum(report.payouts.leaves.values()) + report.entitlements.dust_pending == charged
    verified = cluster.run_cli("verify", "--epoch", str(epoch))
    assert verified.returncode == 0 and "match" in verified.stdout, verified.stdout


# --- chain RPC down / anvil restart -------------------------------------------------------------


def test_chain_down_then_restarted(
    cluster: Cluster, clients: tuple[httpx.Client, httpx.Client], stage: Stage
) -> None:
    a, b = clients
    p = stage.platforms[0]
    key = {"X-API-Key": p.api_key}
    charged_before = int(ok(a.get("/v1/channels/mine", headers=p.headers))["charged"])
    time.sleep(1.5)  # anvil saves its state every second
    cluster.chain.kill()
    try:
        status, backends = _readiness(a)
        assert status == 503 and not backends["chain"] and backends["database"], backends
        assert ok(b.get("/v1/voices")) and ok(a.get("/v1/tracks"))  # reads still answer
        r = b.post(
            "/v1/access", json=p.access_body(stage.track, PRICE, int(time.time())), headers=key
        )
        assert r.status_code == 503, r.text  # the voucher cannot be checked against the chain
        assert r.json()["error"]["code"] == "chain_unavailable"
        p.meter.undo_last()  # refused: the platform does not count it
    finally:
        cluster.chain.start()
    wait_until(lambda: _readiness(a)[0] == 200 and _readiness(b)[0] == 200, "ready again", 30)
    ok(
        a.post("/v1/access", json=p.access_body(stage.track, PRICE, int(time.time())), headers=key),
        201,
    )
    after = int(ok(b.get("/v1/channels/mine", headers=p.headers))["charged"])
    assert after == charged_before + PRICE  # the refused play cost nothing, the next one once


def test_chain_outage_is_reported_as_unavailable(
    cluster: Cluster, clients: tuple[httpx.Client, httpx.Client], stage: Stage
) -> None:
    a, _ = clients
    p = stage.platforms[1]
    time.sleep(1.5)  # anvil saves its state every second
    cluster.chain.kill()
    try:
        body = p.access_body(stage.track, PRICE, int(time.time()))
        r = a.post("/v1/access", json=body, headers={"X-API-Key": p.api_key})
        p.meter.undo_last()
    finally:
        cluster.chain.start()
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "chain_unavailable"
