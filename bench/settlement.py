"""Settlement throughput on this CPU: voucher checks per second and one epoch's build time.

1. Voucher acceptance in-process (``royalties.vouchers.accept_voucher``: every rule, the
   usage-log root and the coincurve fast-path signature recovery), against the baseline of
   recovering the same vouchers through eth-account's generic EIP-712 path.
2. One epoch of 1,000,000 plays from 10 platforms over 10,000 tracks (1,000 creators,
   9,000 fans, one treasury: about 10,000 payees): attribute redeemed plays to tracks, split,
   build the cumulative Merkle tree and every proof, write the canonical report. Baseline in
   the same run: a naive per-play split (floor each play's price per payee, accumulate).

Prints JSON, then a one-line summary. Timings are wall-clock on one core, single run.

    .venv/bin/python bench/settlement.py [--plays N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts.eip712 import escrow_domain, voucher_typed_data
from royalties.gross import ChargedPlay, covered_gross
from royalties.platform_meter import PlatformMeter
from royalties.report import ChainRef, build_report
from royalties.splits import BPS, SplitState, Terms, advance, checksum
from royalties.vouchers import Accepted, ChannelState, Play, accept_voucher

PLATFORMS = 10
TRACKS = 10_000
CREATORS = 1_000
PRICE = 3_000  # base units per play (0.003 USD)
VOUCHERS = 5_000
BASELINE_VOUCHERS = 500
NOW = 1_800_000_000
DOMAIN = escrow_domain(31337, "0x" + "e5" * 20)
CHAIN = ChainRef(31337, "0x" + "a1" * 20, "0x" + "e5" * 20, "0x" + "c3" * 20)


def address(i: int) -> str:
    return checksum(f"0x{i:040x}")


def bench_vouchers() -> dict[str, Any]:
    key = bytes.fromhex("11" * 32)
    meter = PlatformMeter(1, key, DOMAIN)
    track = b"\x07" * 32
    signed = [meter.pay(track, PRICE, NOW) for _ in range(VOUCHERS)]
    state = ChannelState(1, Account.from_key(key).address, balance=PRICE * VOUCHERS)
    play = Play(track, PRICE, NOW)
    start = time.perf_counter()
    for voucher, signature in signed:
        result = accept_voucher(state, play, voucher, signature, DOMAIN, now=NOW)
        assert isinstance(result, Accepted)
        state = result.state
    fast_s = time.perf_counter() - start
    start = time.perf_counter()
    for voucher, signature in signed[:BASELINE_VOUCHERS]:
        message = encode_typed_data(full_message=voucher_typed_data(DOMAIN, voucher))
        assert Account.recover_message(message, signature=signature) == state.signer
    slow_s = time.perf_counter() - start
    return {
        "vouchers": VOUCHERS,
        "accept_per_s": round(VOUCHERS / fast_s),
        "baseline_eth_account_recover_per_s": round(BASELINE_VOUCHERS / slow_s),
    }


def make_epoch(plays: int) -> tuple[list[ChargedPlay], dict[bytes, Terms], dict[int, int]]:
    rng = random.Random(6)
    treasury = address(1)
    terms: dict[bytes, Terms] = {}
    for t in range(TRACKS):
        creator_bps = rng.choice([5_000, 3_333, 6_000, 4_500])
        fan_bps = rng.choice([4_000, 3_333, 2_500])
        terms[t.to_bytes(32, "big")] = Terms(
            version=0,
            creator=address(10 + t % CREATORS),
            fan=address(100_000 + t % (TRACKS - CREATORS)),
            treasury=treasury,
            creator_bps=creator_bps,
            fan_bps=fan_bps,
            platform_bps=BPS - creator_bps - fan_bps,
        )
    track_ids = list(terms)
    out: list[ChargedPlay] = []
    cumulative = [0] * PLATFORMS
    for i in range(plays):
        channel = i % PLATFORMS
        price = PRICE + (i % 7)
        cumulative[channel] += price
        track = track_ids[rng.randrange(TRACKS)]
        out.append(ChargedPlay(channel + 1, i // PLATFORMS + 1, track, price, cumulative[channel]))
    return out, terms, {c + 1: cumulative[c] for c in range(PLATFORMS)}


def bench_epoch(plays: int) -> dict[str, Any]:
    charged, terms, claimed = make_epoch(plays)
    stages: dict[str, float] = {}
    start = t0 = time.perf_counter()
    gross = covered_gross(charged, claimed)
    stages["attribute_plays_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    state = advance(SplitState(), 0, gross, {t: terms[t] for t in gross}, address(2))
    stages["split_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = build_report(
        epoch=0,
        state=state,
        channels=claimed,
        dust_account=address(2),
        previous_total=0,
        chain=CHAIN,
        code_version="bench",
    )
    root = report.payouts.root  # the tree is built lazily: count it here
    stages["tree_and_report_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    proofs = report.payouts.proofs()
    stages["all_proofs_s"] = time.perf_counter() - t0
    total_s = time.perf_counter() - start

    # Baseline: split every play on its own, flooring per play; remainders pile up per play.
    t0 = time.perf_counter()
    naive: dict[str, int] = {}
    naive_dust = 0
    for p in charged:
        t = terms[p.track_id]
        paid = 0
        for payee, w in t.shares():
            amount = p.price * w // BPS
            naive[payee] = naive.get(payee, 0) + amount
            paid += amount
        naive_dust += p.price - paid
    naive_s = time.perf_counter() - t0
    ent = report.entitlements
    return {
        "plays": plays,
        "platforms": PLATFORMS,
        "tracks": TRACKS,
        "payees": len(report.payouts.leaves),
        "gross_base_units": ent.gross,
        "root": "0x" + root.hex(),
        "proof_length": len(next(iter(proofs.values()))),
        "report_bytes": len(report.data),
        "dust_pending_base_units": ent.dust_pending,
        "epoch_build_s": round(total_s, 3),
        "stages_s": {k: round(v, 3) for k, v in stages.items()},
        "baseline_naive_per_play_split_s": round(naive_s, 3),
        "baseline_naive_dust_base_units": naive_dust,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plays", type=int, default=1_000_000)
    args = parser.parse_args()
    figures = {"vouchers": bench_vouchers(), "epoch": bench_epoch(args.plays)}
    print(json.dumps(figures, indent=2))
    v, e = figures["vouchers"], figures["epoch"]
    print(
        f"vouchers: {v['accept_per_s']}/s accepted (eth-account baseline "
        f"{v['baseline_eth_account_recover_per_s']}/s); epoch of {e['plays']} plays -> "
        f"{e['payees']} payees in {e['epoch_build_s']} s (naive per-play split "
        f"{e['baseline_naive_per_play_split_s']} s, dust {e['baseline_naive_dust_base_units']} "
        f"vs {e['dust_pending_base_units']} base units)"
    )


if __name__ == "__main__":
    main()
