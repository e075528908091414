"""``POST /v1/access``: every refusal is a 4xx naming its reason and changes nothing; two
accesses racing on one channel with the same seq never both pass."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from eth_account import Account
from sqlalchemy import func, select

from contracts.eip712 import Voucher, escrow_domain, sign_voucher
from royalties.usage_log import UsageRecord, verify_inclusion
from studio.db.models import Play
from tests.studio.request_bodies import access_request
from tests.studio.test_settlement_world import (
    FIRST_PLATFORM,
    Platform,
    World,
    node,
    world,
)

__all__ = ["node", "world"]

PRICE = 3000


def _post(w: World, p: Platform, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    r = w.client.post("/v1/access", json=body, headers={"X-API-Key": p.api_key})
    return r.status_code, r.json()


def _signed(w: World, p: Platform, voucher: Voucher, key: bytes | None = None) -> str:
    d = w.deployment
    sig = sign_voucher(
        key or bytes(p.wallet.account.key), escrow_domain(d.chain_id, d.escrow), voucher
    )
    return "0x" + sig.hex()


def _custom(w: World, p: Platform, track: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The meter's next voucher with fields changed (re-signed unless a signature is given)."""
    ts = changes.pop("timestamp", w.now())
    sig_override = changes.pop("signature", None)
    key = changes.pop("key", None)
    record = UsageRecord(p.meter.seq + 1, bytes.fromhex(track["content_sha256"]), PRICE, ts)
    usage = p.meter.usage.append(record)
    fields = {
        "channel_id": p.channel_id,
        "cumulative_amount": p.meter.cumulative + PRICE,
        "usage_root": usage.root(),
        "seq": record.seq,
        **changes,
    }
    voucher = Voucher(**fields)
    return access_request(track, ts, voucher, sig_override or _signed(w, p, voucher, key))


def _state(w: World, p: Platform) -> tuple[str, int, int]:
    view = w.client.get("/v1/channels/current", headers={"X-API-Key": p.api_key}).json()
    with w.services.db() as db:
        plays = db.scalar(select(func.count()).select_from(Play))
    return view["charged"], view["last_seq"], int(plays or 0)


def test_every_refusal_names_its_reason_and_changes_nothing(world: World) -> None:
    w = world
    w.sign_in("creator", "creator")
    w.sign_in("fan", "fan")
    voice = w.voice("creator", price=PRICE)
    track = w.track("fan", voice)
    retired = w.track("fan", voice, "to retire")
    p = w.platform("platform", FIRST_PLATFORM, deposit=10_000)
    first = w.play(p, track, PRICE)
    assert first["seq"] == 1 and first["cumulative_amount"] == str(PRICE)
    assert first["usage_index"] == 0 and first["stream_url"]
    before = _state(w, p)

    cases: list[tuple[str, int, dict[str, Any]]] = [
        ("underpaid", 402, _custom(w, p, track, cumulative_amount=PRICE + PRICE - 1)),
        ("overpaid", 422, _custom(w, p, track, cumulative_amount=3 * PRICE)),
        ("stale_seq", 409, _custom(w, p, track, seq=1)),
        ("usage_root_mismatch", 422, _custom(w, p, track, usage_root=b"\x01" * 32)),
        ("bad_timestamp", 422, _custom(w, p, track, timestamp=w.now() - 3600)),
        ("wrong_channel", 403, _custom(w, p, track, channel_id=p.channel_id + 99)),
        ("wrong_signer", 403, _custom(w, p, track, key=bytes(Account.create().key))),
        ("bad_signature", 403, _custom(w, p, track, signature="0x" + "ff" * 65)),
    ]
    unknown = _custom(w, p, track)
    unknown["track_id"] = str(uuid.uuid4())
    cases.append(("unknown_track", 404, unknown))
    for reason, status, body in cases:
        code, out = _post(w, p, body)
        assert (code, out["error"]["code"]) == (status, reason), (reason, out)
        assert _state(w, p) == before, reason

    # Replay: the accepted voucher sent again.
    body = w.access_body(p, track, PRICE)
    assert _post(w, p, body)[0] == 201
    code, out = _post(w, p, body)
    assert (code, out["error"]["code"]) == (409, "replay")

    # A retired track takes no new plays.
    r = w.client.post(f"/v1/tracks/{retired['id']}/retire", headers=w.headers["fan"])
    assert r.status_code == 200 and r.json()["status"] == "retired"
    code, out = _post(w, p, _custom(w, p, retired))
    assert (code, out["error"]["code"]) == (410, "track_retired")

    # Under-funded: the deposit covers 10,000; two plays charged 6,000, a third and fourth
    # would need 12,000.
    assert _post(w, p, w.access_body(p, track, PRICE))[0] == 201  # 9,000
    code, out = _post(w, p, _custom(w, p, track))
    assert (code, out["error"]["code"]) == (402, "under_funded"), out
    assert out["error"]["detail"]["required"] == str(4 * PRICE)

    # Withdrawal pending on-chain: streaming stops until it is cancelled.
    w.fund("platform", 100_000)
    steps = w.client.get("/v1/channels/withdrawal?amount=1", headers=p.headers).json()
    request, cancel, _execute = steps
    assert "Request" in request["description"] and "Cancel" in cancel["description"]
    w.send(p.wallet.address, request)
    mine = w.client.get("/v1/channels/mine", headers=p.headers).json()
    assert mine["withdrawal_pending"] and mine["withdraw_amount"] == "1"
    code, out = _post(w, p, _custom(w, p, track))
    assert (code, out["error"]["code"]) == (409, "withdrawal_pending")
    w.send(p.wallet.address, cancel)
    assert _post(w, p, w.access_body(p, track, PRICE))[0] == 201

    # Without a channel, or without a key.
    other = w.sign_in("bare", "fan")
    pid = w.client.post("/v1/platforms", json={"name": "bare"}, headers=other).json()["id"]
    key = w.client.post(f"/v1/platforms/{pid}/api-keys", json={"name": "k"}, headers=other)
    r = w.client.post(
        "/v1/access", json=_custom(w, p, track), headers={"X-API-Key": key.json()["key"]}
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "channel_not_open")
    assert w.client.post("/v1/access", json=_custom(w, p, track)).status_code == 401

    # The studio proves every play it charged for against the usage root the platform signed.
    view = w.client.get("/v1/channels/current", headers={"X-API-Key": p.api_key}).json()
    r = w.client.get(f"/v1/access/plays/{first['play_id']}/proof", headers={"X-API-Key": p.api_key})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (
        got["index"] == 0
        and got["size"] == view["usage_size"]
        and got["root"] == view["usage_root"]
    )
    record = UsageRecord(
        got["record"]["seq"],
        bytes.fromhex(got["record"]["track_id"][2:]),
        int(got["record"]["price"]),
        got["record"]["timestamp"],
    )
    proof = [bytes.fromhex(x[2:]) for x in got["proof"]]
    assert verify_inclusion(bytes.fromhex(got["root"][2:]), got["size"], 0, record, proof)
    assert (
        w.client.get(
            f"/v1/access/plays/{uuid.uuid4()}/proof", headers={"X-API-Key": p.api_key}
        ).status_code
        == 404
    )


def test_racing_accesses_with_one_seq_never_both_pass(world: World) -> None:
    w = world
    w.sign_in("creator", "creator")
    w.sign_in("fan", "fan")
    voice = w.voice("creator", price=PRICE)
    tracks = [w.track("fan", voice, f"t{i}") for i in range(2)]
    p = w.platform("platform", FIRST_PLATFORM + 1, deposit=1_000_000)
    w.play(p, tracks[0], PRICE)
    for _ in range(4):
        # Two different vouchers, both claiming the next seq: only one can be the next play.
        bodies = [_custom(w, p, t) for t in tracks]
        results: list[int] = []
        barrier = threading.Barrier(2)

        def send(
            body: dict[str, Any],
            barrier: threading.Barrier = barrier,
            results: list[int] = results,
        ) -> None:
            barrier.wait()
            results.append(_post(w, p, body)[0])

        threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results)[0] == 201 and sorted(results)[1] == 409, results
        # The platform learns which one passed from the channel view and logs it.
        view = w.client.get("/v1/channels/current", headers={"X-API-Key": p.api_key}).json()
        with w.services.db() as db:
            last = db.scalars(select(Play).order_by(Play.seq.desc()).limit(1)).one()
        winner = next(t for t in tracks if t["id"] == str(last.track_id))
        p.meter.pay(bytes.fromhex(winner["content_sha256"]), PRICE, last.timestamp)
        assert "0x" + p.meter.usage.root().hex() == view["usage_root"]
