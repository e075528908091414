"""Scale mode end to end: two API processes, two Celery workers, PostgreSQL, Redis, SeaweedFS
and anvil, every client spread over both API processes — so nothing the flow needs may live in
one process's memory (sessions, nonces, rate limits, channel meters, job progress)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from contracts.deploy import connect
from royalties.report import load_report
from royalties.splits import checksum
from tests.scale.actors import (
    follow_events,
    ok,
    open_platform,
    sha256_of,
    sign_in,
    sign_terms,
    upload,
    wait_job,
)
from tests.scale.cluster import CHALLENGE_S, FIRST_PLATFORM, Cluster
from tests.studio.speech import speech
from tests.studio.wallets import Wallet

PRICE = 3000
#: Plays are dated this far back: inside the vouchers' 300 s skew, and in a short epoch that
#: closes ~20 s later (the chain runs behind the wall clock; cluster module docstring).
PLAY_AGE_S = 290


def test_sessions_and_nonces_work_on_either_process(
    cluster: Cluster, clients: tuple[httpx.Client, httpx.Client]
) -> None:
    a, b = clients
    wallet = Wallet.new()
    headers = sign_in(cluster, a, b, wallet, roles=("fan",))  # nonce from A, SIWE on B
    assert ok(a.get("/v1/me", headers=headers))["address"] == wallet.address
    assert ok(b.get("/v1/me", headers=headers))["address"] == wallet.address

    # a nonce is spent everywhere once used anywhere
    nonce = ok(b.get("/v1/auth/nonce"))["nonce"]
    message = wallet.siwe_message(nonce, domain=cluster.siwe_domain, uri=cluster.public_url)
    body = {"message": message, "signature": wallet.sign(message)}
    assert a.post("/v1/auth/siwe", json=body).status_code == 200
    again = b.post("/v1/auth/siwe", json=body)
    assert again.status_code in (400, 401), again.text

    # logging out on one process ends the session on the other
    assert b.post("/v1/auth/logout", headers=headers).status_code == 204
    assert a.get("/v1/me", headers=headers).status_code == 401


def test_rate_limits_are_counted_across_processes(
    cluster: Cluster, clients: tuple[httpx.Client, httpx.Client]
) -> None:
    a, b = clients
    headers = sign_in(cluster, a, b, Wallet.new())
    limit = 120  # TIMBRE_RATE_LIMIT_WRITES_PER_MIN default, per caller and minute window
    if time.time() % 60 > 45:  # keep the burst inside one fixed window
        time.sleep(61 - time.time() % 60)
    codes = [
        (a, b)[i % 2].post("/v1/me/roles", json={"role": "fan"}, headers=headers).status_code
        for i in range(limit + 10)
    ]
    # per-process counters would let all 130 through (65 each); shared ones stop at 120
    assert codes[:limit] == [200] * limit
    assert set(codes[limit:]) == {429}


def test_the_whole_flow_across_processes(
    cluster: Cluster, clients: tuple[httpx.Client, httpx.Client], speech_cache: Any
) -> None:
    a, b = clients

    # Creator: signs in (nonce from A, SIWE on B), uploads on A, trains via B, follows on A.
    creator = Wallet.new()
    hc = sign_in(cluster, a, b, creator, roles=("creator",))
    refs = [upload(a, hc, speech("slt", 3, speech_cache, start=i * 3)) for i in range(2)]
    train = ok(
        b.post(
            "/v1/jobs",
            json={"kind": "train", "upload_ids": refs, "name": "Slt", "method": "baseline"},
            headers=hc,
        ),
        201,
    )
    events = follow_events(a, hc, train["id"])
    assert events[-1]["status"] == "succeeded", events
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)  # in order, once each
    trained = ok(b.get(f"/v1/jobs/{train['id']}", headers=hc))
    voice_id = trained["voice_model_id"]
    terms = sign_terms(cluster, b, a, creator, hc, voice_id, price=PRICE)
    assert terms["status"] == "active" and terms["tx_hash"], terms
    catalogue = {v["id"]: v for v in ok(b.get("/v1/voices"))}
    assert catalogue[voice_id]["terms"]["price_per_play"] == str(PRICE)

    # Fan: signs in the other way round, converts (upload on B, job via A, result via B).
    fan = Wallet.new()
    hf = sign_in(cluster, b, a, fan, roles=("fan",))
    ok(a.post(f"/v1/voices/{voice_id}/accept", json={"terms_version": 1}, headers=hf))
    vocal = upload(b, hf, speech("awb", 1, speech_cache, start=10))
    body = {"kind": "convert", "upload_id": vocal, "voice_model_id": voice_id}
    convert = ok(a.post("/v1/jobs", json=body, headers=hf), 201)
    done = wait_job(b, hf, convert["id"])
    assert done["status"] == "succeeded" and done["attempts"] == 1, done
    result = ok(b.get(f"/v1/jobs/{convert['id']}/result", headers=hf))
    assert sha256_of(result["url"]) == result["sha256"]  # the stored object, byte for byte
    track = ok(a.post("/v1/tracks", json={"job_id": convert["id"], "title": "t"}, headers=hf), 201)
    assert track["status"] == "published", track
    assert track["id"] in {t["id"] for t in ok(b.get("/v1/tracks"))}

    # Platforms: set up across both processes, then stream with vouchers on alternating
    # processes — each channel's meter (seq, cumulative amount) lives in the database.
    p1 = open_platform(cluster, a, b, FIRST_PLATFORM, name="p1", deposit=1_000_000)
    p2 = open_platform(cluster, b, a, FIRST_PLATFORM + 1, name="p2", deposit=1_000_000)
    stamp = int(time.time()) - PLAY_AGE_S
    plan = [(p1, a), (p2, b), (p1, b), (p2, a), (p1, a), (p2, b), (p1, b)]
    plays, bodies = [], []
    for p, client in plan:
        bodies.append(p.access_body(track, PRICE, stamp))
        r = client.post("/v1/access", json=bodies[-1], headers={"X-API-Key": p.api_key})
        plays.append(ok(r, 201))
    assert len({p["epoch"] for p in plays}) == 1
    epoch = plays[0]["epoch"]
    assert [p["seq"] for p in plays if p["channel_id"] == str(p1.channel_id)] == [1, 2, 3, 4]
    # p1's last voucher again, at the other process: refused, nothing charged twice
    replay = a.post("/v1/access", json=bodies[-1], headers={"X-API-Key": p1.api_key})
    assert replay.status_code == 409, replay.text
    charged = ok(a.get("/v1/channels/mine", headers=p1.headers))["charged"]
    assert charged == str(4 * PRICE)
    assert ok(b.get("/v1/channels/mine", headers=p2.headers))["charged"] == str(3 * PRICE)
    for play in plays[:2]:
        assert httpx.get(play["stream_url"], timeout=30).status_code == 200

    # Settlement (a separate `timbre settle` process) once the epoch has closed on both clocks.
    d = cluster.deployment
    closes = d.epoch_genesis + (epoch + 1) * d.epoch_length_s + 301
    time.sleep(max(0.0, closes - time.time()))
    cluster.chain.catch_up()
    settled = cluster.settle()
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert f"settled: epoch {epoch} proposed" in settled.stdout, settled.stdout
    view = ok(b.get(f"/v1/epochs/{epoch}"))
    assert view["status"] == "proposed" and view["root_tx_hash"], view

    # Conservation in the published report: every charged unit is split or held as dust.
    data = cluster.s3.client().get_object(
        cluster.env["TIMBRE_S3_BUCKET"], f"sha256/{view['report_sha256']}"
    )
    report = load_report(data.read())
    ent = report.entitlements
    assert ent.gross == 7 * PRICE
    assert sum(report.payouts.leaves.values()) + ent.dust_pending == 7 * PRICE

    # Payees claim once the challenge window is over: the creator through the service (on B),
    # the fan on-chain with the proof the service (on A) hands out.
    cluster.chain.catch_up(ahead_s=CHALLENGE_S + 2)
    contracts = connect(cluster.w3(), d)
    token = contracts.token.functions
    me = ok(b.get("/v1/payouts/me", headers=hc))
    assert me["root_active"] and me["epoch"] == epoch, me
    assert int(me["cumulative_amount"]) == report.payouts.leaves[checksum(creator.address)]
    before = int(token.balanceOf(creator.address).call())
    ok(b.post("/v1/payouts/me/claim", headers=hc))
    assert int(token.balanceOf(creator.address).call()) - before == int(me["cumulative_amount"])
    fan_payout = ok(a.get("/v1/payouts/me", headers=hf))
    assert int(fan_payout["cumulative_amount"]) == 7 * PRICE * 4000 // 10_000
    w3 = cluster.w3()
    claim = contracts.distributor.functions.claimFor(
        fan.address,
        int(fan_payout["cumulative_amount"]),
        [bytes.fromhex(x[2:]) for x in fan_payout["proof"]],
    )
    tx = claim.transact({"from": cluster.dev(0).address})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    assert int(token.balanceOf(fan.address).call()) == int(fan_payout["cumulative_amount"])

    # The next pass records both claims; ledger and chain agree; anyone can verify the epoch.
    again = cluster.settle()
    assert again.returncode == 0 and "ledger/chain difference" not in again.stdout, again.stdout
    verified = cluster.run_cli("verify", "--epoch", str(epoch))
    assert verified.returncode == 0 and "match" in verified.stdout, verified.stdout
    earnings = ok(a.get("/v1/payouts/me/tracks", headers=hf))
    assert [(t["plays"], t["gross"]) for t in earnings] == [(7, str(7 * PRICE))]
