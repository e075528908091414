"""Signature attacks at the API, against the real contracts on anvil: for every signed message
the API takes (SIWE sign-in, creator ModelTerms and payout signatures, TrackApproval, platform
vouchers) a replay across chain id, across contract (verifyingContract), across purpose (a
signature of one type presented as another), the malleable high-s twin of a valid signature, the
wrong signer, an expired signature, a reused nonce, and ERC-1271 wallets that lie or change
their answer. Each is refused with a 4xx naming the reason and changes nothing: no session, no
account, no terms, no registration, no play, no charge.

tests/contracts/test_attacks.py covers the same attacks against the contracts directly."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import siwe
from eth_keys import KeyAPI
from eth_keys.exceptions import BadSignature
from sqlalchemy import func, select

from contracts.artifacts import bind
from contracts.deploy import deploy_contract
from contracts.eip712 import (
    SECP256K1_N,
    ModelTerms,
    TrackApproval,
    Voucher,
    escrow_domain,
    registry_domain,
    sign_model_terms,
    sign_track_approval,
    sign_voucher,
)
from contracts.transact import transact
from royalties.platform_meter import PlatformMeter
from studio.db.models import Account, Play, Session, VoiceModel
from studio.db.models import ModelTerms as TermsRow
from tests.studio.request_bodies import terms_body
from tests.studio.test_access import PRICE, _custom, _state
from tests.studio.test_settlement_world import (
    DEPLOYER,
    FIRST_PLATFORM,
    Platform,
    World,
    node,
    world,
)
from tests.studio.wallets import Wallet, nonce

__all__ = ["node", "world"]

# MaliciousWallet.Mode
HONEST, ALWAYS_VALID, ALWAYS_INVALID, BURN_GAS = 0, 1, 2, 4


def hx(b: bytes) -> str:
    return "0x" + b.hex()


def high_s(signature: bytes) -> bytes:
    """The malleable twin of a valid (r, s, v) signature: (r, n - s, v ^ 1) recovers the same
    address, so a verifier that accepts it lets one signature be presented as two."""
    s = int.from_bytes(signature[32:64], "big")
    return signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])


def off_curve(signature: bytes) -> bytes:
    """``signature`` with an r that is no curve point's x-coordinate: recovery fails outright
    (an exception in the recovering library) instead of yielding another address."""
    for r in range(1, 1000):
        try:
            KeyAPI.Signature(vrs=(0, r, 1)).recover_public_key_from_msg_hash(bytes(32))
        except BadSignature:
            return r.to_bytes(32, "big") + signature[32:]
    raise AssertionError("no off-curve r below 1000")


def _key(w: World, name: str) -> bytes:
    return bytes(w.wallets[name].account.key)


def _counts(w: World) -> tuple[int, int, int, int]:
    with w.services.db() as db:
        return (
            int(db.scalar(select(func.count()).select_from(Session)) or 0),
            int(db.scalar(select(func.count()).select_from(Account)) or 0),
            int(db.scalar(select(func.count()).select_from(TermsRow)) or 0),
            int(db.scalar(select(func.count()).select_from(Play)) or 0),
        )


def _error(r: Any) -> tuple[int, str]:
    body = r.json()
    return r.status_code, body.get("error", {}).get("code", "") if isinstance(body, dict) else ""


# --- SIWE sign-in -------------------------------------------------------------------------


def _message(wallet: Wallet | str, nonce_: str, **over: Any) -> str:
    def iso(t: datetime) -> str:
        return t.astimezone(UTC).isoformat().replace("+00:00", "Z")

    fields: dict[str, Any] = {
        "domain": "testserver",
        "address": wallet if isinstance(wallet, str) else wallet.address,
        "statement": "Sign in to Timbre.",
        "uri": "http://testserver",
        "version": "1",
        "chain_id": 31337,
        "nonce": nonce_,
        "issued_at": iso(datetime.now(UTC)),
    }
    for k, v in over.items():
        fields[k] = iso(v) if isinstance(v, datetime) else v
    return str(siwe.SiweMessage(**fields).prepare_message())


def test_sign_in_signature_attacks(world: World) -> None:
    w = world
    c = w.client
    victim, attacker = Wallet.new(), Wallet.new()
    before = _counts(w)

    def attempt(message: str, signature: str) -> tuple[int, str]:
        return _error(c.post("/v1/auth/siwe", json={"message": message, "signature": signature}))

    d = w.deployment
    some_terms = ModelTerms(
        victim.address, victim.address, os.urandom(32), "", 5000, 4000, 1000, 1, False, 0, 2**40
    )
    now = datetime.now(UTC)
    m = _message(victim, nonce(c))
    good = bytes.fromhex(victim.sign(m)[2:])
    cases = {
        "other chain": (_message(victim, nonce(c), chain_id=1), None, "siwe_wrong_chain"),
        "other site": (
            _message(victim, nonce(c), domain="evil.example", uri="https://evil.example"),
            None,
            "siwe_wrong_domain",
        ),
        "purpose: EIP-712 terms signature": (
            m,
            hx(
                sign_model_terms(
                    bytes(victim.account.key), registry_domain(d.chain_id, d.registry), some_terms
                )
            ),
            "siwe_bad_signature",
        ),
        "high-s twin": (m, hx(high_s(good)), "siwe_bad_signature"),
        "r off the curve": (m, hx(off_curve(good)), "siwe_bad_signature"),
        "wrong signer": (m, attacker.sign(m), "siwe_bad_signature"),
        "expired": (
            _message(victim, nonce(c), expiration_time=now - timedelta(seconds=1)),
            None,
            "siwe_expired",
        ),
        "not before": (
            _message(victim, nonce(c), not_before=now + timedelta(hours=1)),
            None,
            "siwe_not_yet_valid",
        ),
        "odd-length hex": (m, hx(good)[:-1], "siwe_bad_signature"),
        "nonce never issued": (
            _message(victim, "abcdef0123456789abcd"),
            None,
            "siwe_unknown_nonce",
        ),
    }
    for name, (message, signature, code) in cases.items():
        assert attempt(message, signature or victim.sign(message)) == (401, code), name
    assert _counts(w) == before  # no session, no account for anyone

    assert attempt(m, hx(good))[0] == 200
    for signature in (hx(good), hx(high_s(good))):  # a used nonce: replay in either form
        assert attempt(m, signature) == (401, "siwe_nonce_used")


def test_sign_in_with_lying_erc1271_wallets(world: World) -> None:
    w = world
    c = w.client
    owner, stranger = Wallet.new(), Wallet.new()
    address = deploy_contract(w.w3, w.dev(DEPLOYER), "MaliciousWallet", owner.address)
    wallet = bind(w.w3, "MaliciousWallet", address)

    def as_wallet(signer: Wallet) -> tuple[int, str]:
        m = _message(address, nonce(c))
        return _error(c.post("/v1/auth/siwe", json={"message": m, "signature": signer.sign(m)}))

    assert as_wallet(owner)[0] == 200  # honest: its owner's signature
    before = _counts(w)
    assert as_wallet(stranger) == (401, "siwe_bad_signature")
    for mode in (ALWAYS_INVALID, BURN_GAS):  # changes its answer; burns all gas it is given
        transact(w.w3, wallet.functions.setMode(mode), w.dev(DEPLOYER))
        assert as_wallet(owner) == (401, "siwe_bad_signature"), mode
    assert _counts(w) == before


# --- creator terms (EIP-712 ModelTerms) ----------------------------------------------------


def _other_purpose_terms(signer: str, *, approval: bool, deadline: int) -> ModelTerms:
    """Terms of some voice, signed where another message is expected (the purpose check)."""
    return ModelTerms(
        signer, signer, os.urandom(32), "", 5000, 4000, 1000, PRICE, approval, 0, deadline
    )


def test_terms_signature_attacks(world: World) -> None:
    w = world
    h = w.sign_in("creator", "creator")
    w.sign_in("stranger", "creator")
    voice_id, artifact = w.ready_voice("creator")
    d = w.deployment
    creator = w.wallets["creator"].address
    reg = registry_domain(d.chain_id, d.registry)
    key = _key(w, "creator")
    registry_nonce = int(w.client.get("/v1/voices/registry/nonce", headers=h).json()["nonce"])

    def terms(**over: Any) -> ModelTerms:
        fields: dict[str, Any] = {
            "creator": creator,
            "payout": creator,
            "artifact_hash": bytes.fromhex(artifact),
            "metadata_uri": "",
            "creator_bps": 5000,
            "fan_bps": 4000,
            "platform_bps": 1000,
            "price_per_play": PRICE,
            "approval_required": False,
            "nonce": registry_nonce,
            "deadline": w.now() + 3600,
            **over,
        }
        return ModelTerms(**fields)

    base = terms()
    valid = sign_model_terms(key, reg, base)
    payout = Wallet.new()
    split = terms(payout=payout.address)
    approval = TrackApproval(os.urandom(32), os.urandom(32), creator, base.deadline)
    voucher = Voucher(1, PRICE, os.urandom(32), 1)
    expired = terms(deadline=w.now() - 1)
    far = terms(deadline=2**63)  # a valid signature, beyond any date the database can hold
    sign_in_text = _message(w.wallets["creator"], "abcdef0123456789abcd")
    cases: dict[str, tuple[dict[str, Any], int, str]] = {
        "other chain": (
            terms_body(
                base, sign_model_terms(key, registry_domain(d.chain_id + 1, d.registry), base)
            ),
            403,
            "terms_bad_signature",
        ),
        "other contract (escrow as verifyingContract)": (
            terms_body(base, sign_model_terms(key, registry_domain(d.chain_id, d.escrow), base)),
            403,
            "terms_bad_signature",
        ),
        "other contract (escrow's domain)": (
            terms_body(base, sign_model_terms(key, escrow_domain(d.chain_id, d.escrow), base)),
            403,
            "terms_bad_signature",
        ),
        "purpose: a track approval": (
            terms_body(base, sign_track_approval(key, reg, approval)),
            403,
            "terms_bad_signature",
        ),
        "purpose: a voucher": (
            terms_body(base, sign_voucher(key, escrow_domain(d.chain_id, d.escrow), voucher)),
            403,
            "terms_bad_signature",
        ),
        "purpose: a sign-in message": (
            terms_body(base, w.wallets["creator"].sign(sign_in_text)),
            403,
            "terms_bad_signature",
        ),
        "high-s twin": (terms_body(base, high_s(valid)), 403, "terms_bad_signature"),
        "r off the curve": (terms_body(base, off_curve(valid)), 403, "terms_bad_signature"),
        "wrong signer": (
            terms_body(base, sign_model_terms(_key(w, "stranger"), reg, base)),
            403,
            "terms_bad_signature",
        ),
        "signed terms, other price sent": (
            terms_body(base, valid, price_per_play=str(PRICE - 1)),
            403,
            "terms_bad_signature",
        ),
        "expired": (
            terms_body(expired, sign_model_terms(key, reg, expired)),
            400,
            "signature_expired",
        ),
        "payout not signed by the payout": (
            terms_body(
                split,
                sign_model_terms(key, reg, split),
                payout_signature=hx(sign_model_terms(key, reg, split)),
            ),
            403,
            "payout_signature_missing",
        ),
        "payout signature, high-s twin": (
            terms_body(
                split,
                sign_model_terms(key, reg, split),
                payout_signature=hx(
                    high_s(sign_model_terms(bytes(payout.account.key), reg, split))
                ),
            ),
            403,
            "payout_signature_missing",
        ),
        "deadline past year 9999": (
            terms_body(far, sign_model_terms(key, reg, far)),
            422,
            "validation_error",
        ),
        "odd-length hex signature": (terms_body(base, hx(valid)[:-1]), 422, "validation_error"),
    }
    before = _counts(w)
    for name, (body, status, code) in cases.items():
        r = w.client.post(f"/v1/voices/{voice_id}/terms", json=body, headers=h)
        assert _error(r) == (status, code), (name, r.text)
    assert _counts(w) == before
    mine = w.client.get("/v1/voices/mine", headers=h).json()
    assert [(v["status"], v["terms"]) for v in mine if v["id"] == voice_id] == [("ready", None)]
    assert w.client.get(f"/v1/voices/{voice_id}").status_code == 404  # not open
    assert int(w.contracts.registry.functions.nonces(creator).call()) == registry_nonce

    r = w.client.post(f"/v1/voices/{voice_id}/terms", json=terms_body(base, valid), headers=h)
    assert r.status_code == 201 and r.json()["status"] == "active", r.text
    # The same signed terms again: refused (they were adopted as a second version, and every
    # fan's acceptance lapsed); new terms under the spent nonce: refused by the registry.
    r = w.client.post(f"/v1/voices/{voice_id}/terms", json=terms_body(base, valid), headers=h)
    assert _error(r) == (409, "terms_replayed")
    cheaper = terms(price_per_play=1)
    r = w.client.post(
        f"/v1/voices/{voice_id}/terms",
        json=terms_body(cheaper, sign_model_terms(key, reg, cheaper)),
        headers=h,
    )
    assert _error(r) == (409, "registry_refused")
    other_voice, _ = w.ready_voice("creator")
    r = w.client.post(f"/v1/voices/{other_voice}/terms", json=terms_body(base, valid), headers=h)
    assert _error(r) == (403, "terms_bad_signature")
    # Another creator presenting this creator's signed terms for their own voice: refused.
    stranger_voice, _ = w.ready_voice("stranger")
    r = w.client.post(
        f"/v1/voices/{stranger_voice}/terms",
        json=terms_body(base, valid),
        headers=w.headers["stranger"],
    )
    assert _error(r) == (403, "terms_bad_signature")
    voice = w.client.get(f"/v1/voices/{voice_id}").json()
    assert voice["terms"]["version"] == 1 and voice["terms"]["price_per_play"] == str(PRICE)
    assert _counts(w)[2] == before[2] + 1


# --- track approvals (EIP-712 TrackApproval) -----------------------------------------------


def test_track_approval_signature_attacks(world: World) -> None:
    w = world
    h = w.sign_in("creator", "creator")
    w.sign_in("fan", "fan")
    voice = w.voice("creator", approval=True)
    track = w.track("fan", voice, "waiting")
    other = w.track("fan", voice, "also waiting")
    d = w.deployment
    reg = registry_domain(d.chain_id, d.registry)
    key = _key(w, "creator")
    with w.services.db() as db:
        vm = db.get(VoiceModel, uuid.UUID(voice))
        assert vm is not None and vm.onchain_id is not None
        model_id = bytes.fromhex(vm.onchain_id.removeprefix("0x"))
    fan_payout = w.wallets["fan"].address
    deadline = w.now() + 3600

    def approval(t: dict[str, Any], **over: Any) -> TrackApproval:
        fields: dict[str, Any] = {
            "model_id": model_id,
            "content_hash": bytes.fromhex(t["content_sha256"]),
            "fan": fan_payout,
            "deadline": deadline,
            **over,
        }
        return TrackApproval(**fields)

    valid = sign_track_approval(key, reg, approval(track))
    terms = _other_purpose_terms(w.wallets["creator"].address, approval=True, deadline=deadline)
    cases: dict[str, tuple[bytes | str, int, str]] = {
        "other chain": (
            sign_track_approval(key, registry_domain(d.chain_id + 1, d.registry), approval(track)),
            403,
            "approval_bad_signature",
        ),
        "other contract": (
            sign_track_approval(key, registry_domain(d.chain_id, d.escrow), approval(track)),
            403,
            "approval_bad_signature",
        ),
        "purpose: terms": (sign_model_terms(key, reg, terms), 403, "approval_bad_signature"),
        "purpose: voucher": (
            sign_voucher(key, escrow_domain(d.chain_id, d.escrow), Voucher(1, 1, bytes(32), 1)),
            403,
            "approval_bad_signature",
        ),
        "purpose: sign-in": (
            w.wallets["creator"].sign(_message(w.wallets["creator"], "abcdef0123456789abcd")),
            403,
            "approval_bad_signature",
        ),
        "high-s twin": (high_s(valid), 403, "approval_bad_signature"),
        "r off the curve": (off_curve(valid), 403, "approval_bad_signature"),
        "wrong signer (the fan)": (
            sign_track_approval(_key(w, "fan"), reg, approval(track)),
            403,
            "approval_bad_signature",
        ),
        "another track's approval": (
            sign_track_approval(key, reg, approval(other)),
            403,
            "approval_bad_signature",
        ),
        "fan payout changed": (
            sign_track_approval(key, reg, approval(track, fan=Wallet.new().address)),
            403,
            "approval_bad_signature",
        ),
    }
    cases["odd-length hex"] = (hx(valid)[:-1], 422, "validation_error")
    for name, (sig, status, code) in cases.items():
        r = w.client.post(
            f"/v1/tracks/{track['id']}/approve",
            json={"deadline": deadline, "signature": sig if isinstance(sig, str) else hx(sig)},
            headers=h,
        )
        assert _error(r) == (status, code), (name, r.text)
    # A valid signature with a deadline past what the database stores (int64 seconds).
    far = approval(track, deadline=2**64 - 1)
    r = w.client.post(
        f"/v1/tracks/{track['id']}/approve",
        json={"deadline": far.deadline, "signature": hx(sign_track_approval(key, reg, far))},
        headers=h,
    )
    assert _error(r) == (422, "validation_error"), r.text
    # Expired: a valid signature whose deadline has passed is refused (by the registry).
    stale = approval(track, deadline=w.now() - 10)
    r = w.client.post(
        f"/v1/tracks/{track['id']}/approve",
        json={"deadline": stale.deadline, "signature": hx(sign_track_approval(key, reg, stale))},
        headers=h,
    )
    assert _error(r) == (409, "registry_refused")
    for t in (track, other):
        got = w.client.get(f"/v1/tracks/{t['id']}", headers=h).json()
        assert (got["status"], got["onchain_id"]) == ("pending_approval", None)
    assert w.client.get("/v1/tracks").json() == []

    r = w.client.post(
        f"/v1/tracks/{track['id']}/approve",
        json={"deadline": deadline, "signature": hx(valid)},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["status"] == "published", r.text
    for sig in (valid, high_s(valid)):  # replayed, in either form
        r = w.client.post(
            f"/v1/tracks/{track['id']}/approve",
            json={"deadline": deadline, "signature": hx(sig)},
            headers=h,
        )
        assert _error(r) == (409, "track_not_pending")
    assert [t["id"] for t in w.client.get("/v1/tracks").json()] == [track["id"]]


# --- platform vouchers (EIP-712 Voucher) ----------------------------------------------------


def test_voucher_signature_attacks(world: World) -> None:
    w = world
    w.sign_in("creator", "creator")
    w.sign_in("fan", "fan")
    voice = w.voice("creator", price=PRICE)
    track = w.track("fan", voice)
    p = w.platform("platform", FIRST_PLATFORM, deposit=100 * PRICE)
    first = w.access_body(p, track, PRICE)
    r = w.client.post("/v1/access", json=first, headers={"X-API-Key": p.api_key})
    assert r.status_code == 201, r.text  # the channel has history: seq 1 is spent
    d = w.deployment
    key = bytes(p.wallet.account.key)

    def resigned(domain: Any = None, signer: bytes | None = None) -> dict[str, Any]:
        body = _custom(w, p, track)
        v = body["voucher"]
        voucher = Voucher(
            int(v["channel_id"]),
            int(v["cumulative_amount"]),
            bytes.fromhex(v["usage_root"][2:]),
            v["seq"],
        )
        sig = sign_voucher(signer or key, domain or escrow_domain(d.chain_id, d.escrow), voucher)
        return {**body, "signature": hx(sig)}

    good = resigned()
    good_sig = bytes.fromhex(good["signature"][2:])
    terms = _other_purpose_terms(p.wallet.address, approval=False, deadline=w.now() + 3600)
    cases: dict[str, tuple[dict[str, Any], int, set[str]]] = {
        "other chain": (
            resigned(escrow_domain(d.chain_id + 1, d.escrow)),
            403,
            {"wrong_signer", "bad_signature"},
        ),
        "other contract (registry as verifyingContract)": (
            resigned(escrow_domain(d.chain_id, d.registry)),
            403,
            {"wrong_signer", "bad_signature"},
        ),
        "other contract (registry's domain)": (
            resigned(registry_domain(d.chain_id, d.registry)),
            403,
            {"wrong_signer", "bad_signature"},
        ),
        "purpose: terms": (
            {
                **good,
                "signature": hx(
                    sign_model_terms(key, registry_domain(d.chain_id, d.registry), terms)
                ),
            },
            403,
            {"wrong_signer", "bad_signature"},
        ),
        "purpose: track approval": (
            {
                **good,
                "signature": hx(
                    sign_track_approval(
                        key,
                        registry_domain(d.chain_id, d.registry),
                        TrackApproval(os.urandom(32), os.urandom(32), p.wallet.address, 2**40),
                    )
                ),
            },
            403,
            {"wrong_signer", "bad_signature"},
        ),
        "purpose: sign-in": (
            {**good, "signature": p.wallet.sign(_message(p.wallet, "abcdef0123456789abcd"))},
            403,
            {"wrong_signer", "bad_signature"},
        ),
        "high-s twin": ({**good, "signature": hx(high_s(good_sig))}, 403, {"bad_signature"}),
        "r off the curve": (
            {**good, "signature": hx(off_curve(good_sig))},
            403,
            {"bad_signature"},
        ),
        "wrong signer": (
            resigned(signer=bytes(Wallet.new().account.key)),
            403,
            {"wrong_signer"},
        ),
        "expired (timestamp long past)": (
            _custom(w, p, track, timestamp=w.now() - 3600),
            422,
            {"bad_timestamp"},
        ),
        "replay of a spent voucher": (first, 409, {"replay", "stale_seq"}),
        "odd-length hex": (
            {**good, "signature": good["signature"][:-1]},
            422,
            {"validation_error"},
        ),
    }
    before = _state(w, p)
    for name, (body, status, codes) in cases.items():
        r = w.client.post("/v1/access", json=body, headers={"X-API-Key": p.api_key})
        got = _error(r)
        assert got[0] == status and got[1] in codes, (name, r.text)
    assert _state(w, p) == before  # nothing charged, no play

    r = w.client.post("/v1/access", json=good, headers={"X-API-Key": p.api_key})
    assert r.status_code == 201, r.text
    after = _state(w, p)
    for sig in (good_sig, high_s(good_sig)):  # the accepted voucher again, in either form
        r = w.client.post(
            "/v1/access", json={**good, "signature": hx(sig)}, headers={"X-API-Key": p.api_key}
        )
        assert r.status_code == 409 and _error(r)[1] in {"replay", "stale_seq"}, r.text
    assert _state(w, p) == after


def test_voucher_from_an_erc1271_signer_that_changes_its_answer(world: World) -> None:
    """A platform whose channel signer is a contract wallet: honest, its owner's vouchers pay;
    once it answers "invalid" (or burns all its gas) nothing more is charged. (Vouchers it
    accepted earlier and later disowns are the settlement's problem: the escrow skips them,
    tests/contracts/test_attacks.py.)"""
    w = world
    w.sign_in("creator", "creator")
    w.sign_in("fan", "fan")
    track = w.track("fan", w.voice("creator", price=PRICE))
    account = w.dev(FIRST_PLATFORM)
    h = w.sign_in("platform", wallet=Wallet(account))
    platform_id = w.client.post("/v1/platforms", json={"name": "p"}, headers=h).json()["id"]
    r = w.client.post(f"/v1/platforms/{platform_id}/api-keys", json={"name": "k"}, headers=h)
    api_key = r.json()["key"]
    signer = deploy_contract(w.w3, w.dev(DEPLOYER), "MaliciousWallet", account.address)
    w.tx(w.contracts.escrow.functions.openChannel(w.deployment.token, signer), account)
    channel_id = int(w.contracts.escrow.functions.channelCount().call())
    r = w.client.post("/v1/channels/link", json={"channel_id": str(channel_id)}, headers=h)
    assert r.status_code == 200, r.text
    w.fund("platform", 100 * PRICE)
    d = w.deployment
    meter = PlatformMeter(channel_id, bytes(account.key), escrow_domain(d.chain_id, d.escrow))
    p = Platform(Wallet(account), h, api_key, channel_id, meter)
    w.play(p, track, PRICE)  # honest: the owner's signature, checked by isValidSignature

    def post(body: dict[str, Any]) -> tuple[int, str]:
        return _error(w.client.post("/v1/access", json=body, headers={"X-API-Key": api_key}))

    before = _state(w, p)
    stranger = bytes(Wallet.new().account.key)
    assert post(_custom(w, p, track, key=stranger)) == (403, "wrong_signer")
    wallet = bind(w.w3, "MaliciousWallet", signer)
    for mode in (ALWAYS_INVALID, BURN_GAS):
        transact(w.w3, wallet.functions.setMode(mode), w.dev(DEPLOYER))
        assert post(_custom(w, p, track)) == (403, "wrong_signer"), mode
    assert _state(w, p) == before
