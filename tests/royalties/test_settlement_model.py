"""A hypothesis state machine over the whole pure settlement: platforms stream through
accepted vouchers, creators change terms (in force from the next epoch, as the registry does),
the escrow redeems vouchers, epochs close incrementally, and every report verifies and
continues the last one. After each step: money is conserved and no leaf goes down."""

from __future__ import annotations

from eth_account import Account
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from contracts.eip712 import escrow_domain
from royalties.gross import ChargedPlay, covered_gross
from royalties.ledger import Transaction, balances, post_entitlements, post_play
from royalties.platform_meter import PlatformMeter
from royalties.report import ChainRef, Report, build_report
from royalties.splits import SplitState, Terms, advance, entitlements
from royalties.verify import verify_report
from royalties.vouchers import Accepted, ChannelState, Play, accept_voucher
from tests.royalties.strategies import DUST, TRACKS, terms

DOMAIN = escrow_domain(31337, "0x" + "e5" * 20)
CHAIN = ChainRef(31337, "0x" + "a1" * 20, "0x" + "e5" * 20, "0x" + "c3" * 20)
KEYS = {1: bytes.fromhex("11" * 32), 2: bytes.fromhex("22" * 32)}
SIGNERS = {c: Account.from_key(k).address for c, k in KEYS.items()}
NOW = 1_800_000_000


class Settlement(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.epoch = 0
        self.terms: dict[bytes, Terms] = {}
        self.next_terms: dict[bytes, Terms] = {}
        self.channels = {c: ChannelState(c, SIGNERS[c], balance=10**12) for c in KEYS}
        self.meters = {c: PlatformMeter(c, k, DOMAIN) for c, k in KEYS.items()}
        self.new_plays: list[ChargedPlay] = []
        self.claimed = dict.fromkeys(KEYS, 0)
        self.settled_claimed: dict[int, int] = {}
        self.state = SplitState()
        self.reports: list[Report] = []
        self.ledger: list[Transaction] = []
        self.in_force: dict[int, dict[bytes, Terms]] = {}

    @initialize(first=st.lists(terms(), min_size=len(TRACKS), max_size=len(TRACKS)))
    def register(self, first: list[Terms]) -> None:
        self.terms = dict(zip(TRACKS, first, strict=True))  # new models: in force from now

    @rule(track=st.sampled_from(TRACKS), t=terms())
    def update_terms(self, track: bytes, t: Terms) -> None:
        self.next_terms[track] = t  # an update: in force from the next epoch

    @rule(channel=st.sampled_from([1, 2]), track=st.sampled_from(TRACKS), price=st.integers(0, 9))
    def play(self, channel: int, track: bytes, price: int) -> None:
        now = NOW + self.epoch * 3_600
        voucher, sig = self.meters[channel].pay(track, price, now)
        result = accept_voucher(
            self.channels[channel], Play(track, price, now), voucher, sig, DOMAIN, now=now
        )
        assert isinstance(result, Accepted)
        self.channels[channel] = result.state
        self.new_plays.append(
            ChargedPlay(channel, voucher.seq, track, price, voucher.cumulative_amount)
        )
        if price:
            self.ledger.append(post_play(channel, track, price, ref=str(voucher.seq)))

    @rule(channel=st.sampled_from([1, 2]))
    def redeem(self, channel: int) -> None:
        self.claimed[channel] = self.channels[channel].charged

    @rule()
    def close_epoch(self) -> None:
        claimed = {c: v for c, v in self.claimed.items() if v}
        gross = covered_gross(
            [p for p in self.new_plays if p.cumulative > self.settled_claimed.get(p.channel_id, 0)],
            claimed,
            since=self.settled_claimed,
            base=self.state.track_gross(),
        )
        new = advance(self.state, self.epoch, gross, dict(self.terms), DUST)
        self.ledger.append(post_entitlements(self.state, new, ref=f"epoch {self.epoch}"))
        self.state = new
        self.settled_claimed = dict(claimed)
        self.new_plays = [p for p in self.new_plays if p.cumulative > claimed.get(p.channel_id, 0)]
        self.in_force[self.epoch] = dict(self.terms)
        if entitlements(new.segments).accounts:
            previous = self.reports[-1] if self.reports else None
            report = build_report(
                epoch=self.epoch,
                state=new,
                channels=claimed,
                dust_account=DUST,
                previous_total=previous.payouts.total if previous else 0,
                previous_leaves=dict(previous.payouts.leaves) if previous else None,
                chain=CHAIN,
                code_version="model",
            )
            result = verify_report(report.data, previous=previous.data if previous else None)
            assert result.ok, result.difference
            self.reports.append(report)
        self.epoch += 1
        self.terms.update(self.next_terms)  # updates signed during the epoch now apply
        self.next_terms = {}

    @invariant()
    def money_is_conserved(self) -> None:
        if self.reports:
            r = self.reports[-1]
            redeemed = sum(c["claimed"] for c in r.document["inputs"]["channels"])
            assert r.payouts.total + r.entitlements.dust_pending == redeemed
        assert sum(balances(self.ledger).values()) == 0

    @invariant()
    def each_segment_has_the_terms_of_its_first_epoch(self) -> None:
        for s in self.state.segments:
            assert s.terms == self.in_force[s.start_epoch][s.track_id]


TestSettlement = Settlement.TestCase
TestSettlement.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
