"""Voucher acceptance: honest vouchers pass; each kind of bad voucher is refused with its own
reason and changes nothing; the accepted log proves every play charged."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import eip712
from contracts.eip712 import SECP256K1_N, Voucher, escrow_domain, sign_voucher
from royalties import fastsig
from royalties.platform_meter import PlatformMeter
from royalties.usage_log import inclusion_proof, usage_root, verify_inclusion
from royalties.vouchers import (
    MAX_CLOCK_SKEW_S,
    Accepted,
    ChannelState,
    Play,
    Reason,
    Rejected,
    accept_voucher,
)

KEY = bytes.fromhex("11" * 32)
OTHER_KEY = bytes.fromhex("22" * 32)
SIGNER = Account.from_key(KEY).address
ESCROW = "0x" + "e5" * 20
DOMAIN = escrow_domain(31337, ESCROW)
TRACK = b"\x07" * 32
PRICE = 3_000
NOW = 1_800_000_000


def fresh() -> tuple[ChannelState, PlatformMeter]:
    return ChannelState(1, SIGNER, balance=10 * PRICE), PlatformMeter(1, KEY, DOMAIN)


def accept(state: ChannelState, voucher: Voucher, sig: bytes, **kw: int) -> Accepted | Rejected:
    play = Play(TRACK, kw.get("price", PRICE), kw.get("ts", NOW))
    return accept_voucher(state, play, voucher, sig, DOMAIN, now=kw.get("now", NOW))


def ok(result: Accepted | Rejected) -> Accepted:
    assert isinstance(result, Accepted), result
    return result


def refused(result: Accepted | Rejected, reason: Reason) -> None:
    assert isinstance(result, Rejected), result
    assert result.reason == reason, result


def test_honest_vouchers_are_accepted_and_prove_their_plays() -> None:
    state, meter = fresh()
    for i in range(5):
        voucher, sig = meter.pay(TRACK, PRICE, NOW + i)
        result = ok(accept(state, voucher, sig, ts=NOW + i, now=NOW + i))
        assert result.index == i
        state = result.state
        assert (state.last_seq, state.charged) == (i + 1, (i + 1) * PRICE)
    assert state.usage.root() == usage_root(meter.records)
    for i, r in enumerate(meter.records):
        proof = inclusion_proof(meter.records, i)
        assert verify_inclusion(state.usage.root(), 5, i, r, proof)


def test_each_bad_voucher_has_its_own_reason() -> None:
    state, meter = fresh()
    voucher, sig = meter.pay(TRACK, PRICE, NOW)
    state = ok(accept(state, voucher, sig)).state

    refused(accept(state, voucher, sig), Reason.REPLAY)
    refused(accept(state, replace(voucher, usage_root=b"\x01" * 31), sig), Reason.STALE_SEQ)
    nxt, nsig = meter.pay(TRACK, PRICE, NOW)
    meter.undo_last()
    refused(accept(replace(state, channel_id=2), nxt, nsig), Reason.WRONG_CHANNEL)
    refused(accept(replace(state, withdrawal_pending=True), nxt, nsig), Reason.WITHDRAWAL_PENDING)
    stale = replace(voucher, cumulative_amount=2 * PRICE)
    refused(accept(state, stale, sign_voucher(KEY, DOMAIN, stale)), Reason.STALE_SEQ)
    refused(accept(state, nxt, nsig, price=PRICE + 1), Reason.UNDERPAID)
    refused(accept(state, nxt, nsig, price=PRICE - 1), Reason.OVERPAID)
    refused(accept(state, nxt, nsig, ts=NOW - 1, now=NOW), Reason.BAD_TIMESTAMP)
    refused(accept(state, nxt, nsig, ts=NOW + MAX_CLOCK_SKEW_S + 1), Reason.BAD_TIMESTAMP)
    refused(accept(replace(state, balance=PRICE), nxt, nsig), Reason.UNDER_FUNDED)
    # Redeemed money no longer needs balance: claimed 1 voucher, balance for the 2nd is enough.
    ok(accept(replace(state, balance=PRICE, claimed_onchain=PRICE), nxt, nsig))
    tampered = replace(nxt, usage_root=bytes(32))
    tampered_sig = sign_voucher(KEY, DOMAIN, tampered)
    refused(accept(state, tampered, tampered_sig), Reason.USAGE_ROOT_MISMATCH)
    refused(accept(state, nxt, sign_voucher(OTHER_KEY, DOMAIN, nxt)), Reason.WRONG_SIGNER)
    refused(accept(state, nxt, nsig[:64]), Reason.BAD_SIGNATURE)
    high_s = nsig[:32] + (SECP256K1_N - int.from_bytes(nsig[32:64], "big")).to_bytes(32, "big")
    refused(accept(state, nxt, high_s + bytes([55 - nsig[64]])), Reason.BAD_SIGNATURE)
    ok(accept(state, nxt, nsig))


@pytest.mark.parametrize(
    "domain",
    [escrow_domain(1, ESCROW), escrow_domain(31337, "0x" + "e6" * 20)],
    ids=["other-chain", "other-escrow"],
)
def test_signature_is_bound_to_chain_and_escrow(domain: object) -> None:
    state, _ = fresh()
    meter = PlatformMeter(1, KEY, domain)  # type: ignore[arg-type]
    voucher, sig = meter.pay(TRACK, PRICE, NOW)
    refused(accept(state, voucher, sig), Reason.WRONG_SIGNER)


def test_contract_signer_needs_an_erc1271_check() -> None:
    state, meter = fresh()
    state = replace(state, signer_is_contract=True)
    voucher, sig = meter.pay(TRACK, PRICE, NOW)
    play = Play(TRACK, PRICE, NOW)
    refused(accept_voucher(state, play, voucher, sig, DOMAIN, now=NOW), Reason.WRONG_SIGNER)
    seen: list[tuple[str, bytes, bytes]] = []

    def wallet(signer: str, digest: bytes, signature: bytes) -> bool:
        seen.append((signer, digest, signature))
        return True

    ok(accept_voucher(state, play, voucher, sig, DOMAIN, now=NOW, erc1271=wallet))
    assert seen[0][0] == SIGNER and seen[0][2] == sig


ACTIONS = st.sampled_from(
    ["pay", "pay", "pay", "replay", "underpay", "overpay", "forge", "old", "poor", "root"]
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(ACTIONS, st.integers(1, 5_000)), max_size=25))
def test_only_honest_vouchers_move_the_state(actions: list[tuple[str, int]]) -> None:
    """Random mixes of honest and bad vouchers: the accepted cumulative is always the sum of
    the accepted plays, their log is the channel's root, and every rejection leaves the state."""
    state = ChannelState(1, SIGNER, balance=40 * 5_000)
    meter = PlatformMeter(1, KEY, DOMAIN)
    last: tuple[Voucher, bytes] | None = None
    charged = 0
    for action, price in actions:
        before = state
        voucher, sig = meter.pay(TRACK, price, NOW)
        play_price = price
        if action == "replay" and last is not None:
            meter.undo_last()
            voucher, sig = last
        elif action == "underpay":
            play_price = price + 1
        elif action == "overpay":
            play_price = price - 1
        elif action == "forge":
            sig = sign_voucher(OTHER_KEY, DOMAIN, voucher)
        elif action == "old" and last is not None:
            voucher = replace(voucher, seq=last[0].seq)
            sig = sign_voucher(KEY, DOMAIN, voucher)
        elif action == "poor":
            state = replace(state, balance=charged + price - 1)
        elif action == "root":
            voucher = replace(voucher, usage_root=bytes(32))
            sig = sign_voucher(KEY, DOMAIN, voucher)
        result = accept(state, voucher, sig, price=play_price)
        honest = action == "pay" or (action in ("replay", "old") and last is None)
        if honest:
            state = ok(result).state
            charged += price
            last = (voucher, sig)
        else:
            assert isinstance(result, Rejected)
            if action != "replay":
                meter.undo_last()
            state = replace(state, balance=before.balance)
            assert state == before
        assert state.charged == charged == meter.cumulative
        assert state.usage.root() == usage_root(meter.records)


@settings(max_examples=60, deadline=None)
@given(
    key=st.integers(1, SECP256K1_N - 1),
    channel=st.integers(0, 2**256 - 1),
    amount=st.integers(0, 2**256 - 1),
    root=st.binary(min_size=32, max_size=32),
    seq=st.integers(0, 2**64 - 1),
    chain_id=st.integers(1, 2**64),
)
def test_the_fast_path_signs_and_recovers_what_contracts_eip712_does(
    key: int, channel: int, amount: int, root: bytes, seq: int, chain_id: int
) -> None:
    secret = key.to_bytes(32, "big")
    domain = escrow_domain(chain_id, ESCROW)
    voucher = Voucher(channel, amount, root, seq)
    digest = eip712.voucher_digest(domain, voucher)
    assert fastsig.voucher_digest(domain, voucher) == digest
    sig = fastsig.Signer(secret).sign(digest)
    assert sig == eip712.sign_digest(secret, digest)
    address = fastsig.recover_address(digest, sig)
    assert "0x" + address.hex() == eip712.recover_digest(digest, sig).lower()
    assert "0x" + address.hex() == Account.from_key(secret).address.lower()


@settings(max_examples=200, deadline=None)
@given(signature=st.binary(min_size=60, max_size=70), digest=st.binary(min_size=32, max_size=32))
def test_the_fast_path_refuses_what_contracts_eip712_refuses(
    signature: bytes, digest: bytes
) -> None:
    try:
        expected: str | None = eip712.recover_digest(digest, signature).lower()
    except eip712.SignatureError:
        expected = None
    try:
        got: str | None = "0x" + fastsig.recover_address(digest, signature).hex()
    except eip712.SignatureError:
        got = None
    assert got == expected
