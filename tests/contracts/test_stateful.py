"""Random sequences of deposits, vouchers, claims, withdrawals, roots, vetoes and payee claims
against the real contracts, checking after every step: conservation (every unit is in a
channel, the distributor or a payee/owner wallet), monotone cumulative balances, and
sum of epoch totals <= received."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from contracts import errors
from contracts.merkle import PayoutTree
from tests.contracts.chain import (
    CHALLENGE_WINDOW_S,
    EPOCH_LENGTH_S,
    USD,
    WITHDRAWAL_DELAY_S,
    Chain,
    fresh_key,
)


@dataclass
class ChannelModel:
    channel_id: int
    owner: Any
    balance: int = 0
    claimed: int = 0
    last_seq: int = 0
    vouchers: list[tuple[int, int, bytes, int, bytes]] = field(default_factory=list)
    withdraw_amount: int = 0
    withdraw_ready_at: int = 0
    withdrawn: int = 0


@dataclass
class RootModel:
    epoch: int
    tree: PayoutTree
    total: int
    ready_at: int


class EscrowAndDistributor(RuleBasedStateMachine):
    chain: Chain  # set by the test before the machine runs

    def __init__(self) -> None:
        super().__init__()
        c = self.chain
        self.snapshot = c.node.snapshot()
        owners = [c.roles.platform, c.roles.stranger, c.roles.payout]
        self.channels = [ChannelModel(c.open_channel(owner=o), o) for o in owners]
        self.payees = [fresh_key(100 + i).address for i in range(4)] + [c.roles.dust.address]
        self.entitled = dict.fromkeys(self.payees, 0)  # cumulative of the active root
        self.paid = dict.fromkeys(self.payees, 0)
        self.deposited = 0
        self.received = 0
        self.allocated = 0
        self.next_epoch = 0
        self.active: RootModel | None = None
        self.pending: RootModel | None = None
        self.max_leaf: dict[str, int] = dict.fromkeys(self.payees, 0)
        for i in range(len(self.channels)):  # start funded, so that early vouchers can pay
            self._deposit(i, 200 * USD)

    def teardown(self) -> None:
        self.chain.node.revert(self.snapshot)

    # ------------------------------------------------------------------ helpers

    def _now(self) -> int:
        return self.chain.now()

    def _settle_pending(self) -> None:
        """Mirror the contract's lazy activation once the challenge window has passed."""
        if self.pending is not None and self._now() >= self.pending.ready_at:
            self.active, self.pending = self.pending, None
            self.entitled = dict(self.active.tree.values)

    # ------------------------------------------------------------------ platform side

    def _deposit(self, i: int, amount: int) -> None:
        ch = self.channels[i]
        self.chain.deposit(ch.channel_id, amount, ch.owner)
        ch.balance += amount
        self.deposited += amount

    @rule(i=st.integers(0, 2), amount=st.integers(1, 300 * USD))
    def deposit(self, i: int, amount: int) -> None:
        self._deposit(i, amount)

    @rule(i=st.integers(0, 2), increment=st.integers(0, 120 * USD))
    def sign_voucher(self, i: int, increment: int) -> None:
        ch = self.channels[i]
        last = ch.vouchers[-1] if ch.vouchers else None
        cumulative = (last[1] if last else 0) + increment
        seq = (last[3] if last else 0) + 1
        ch.vouchers.append(self.chain.voucher(ch.channel_id, cumulative, seq, key=ch.owner))

    @precondition(lambda self: any(ch.vouchers for ch in self.channels))
    @rule(data=st.data())
    def claim(self, data: st.DataObject) -> None:
        batch: list[tuple[int, int, bytes, int, bytes]] = []
        expected: list[tuple[ChannelModel, tuple[Any, ...] | None]] = []
        for ch in self.channels:
            if not ch.vouchers or not data.draw(st.booleans()):
                continue
            # Mostly the latest voucher; sometimes an older one (a replay attempt).
            v = data.draw(st.sampled_from(ch.vouchers[-2:]))
            batch.append(v)
            expected.append((ch, v))
        self._claim(batch, expected)

    def _claim(
        self,
        batch: list[tuple[int, int, bytes, int, bytes]],
        expected: list[tuple[ChannelModel, tuple[Any, ...] | None]],
    ) -> None:
        if not batch:
            return
        receipt = self.chain.claim_vouchers(batch)
        redeemed = {
            e["channelId"]: e["amount"]
            for e in self.chain.events(self.chain.escrow, "VoucherRedeemed", receipt)
        }
        total = 0
        for ch, v in expected:
            assert v is not None
            _, cumulative, _, seq, _ = v
            ok = seq > ch.last_seq and ch.claimed <= cumulative <= ch.claimed + ch.balance
            assert (ch.channel_id in redeemed) == ok, (ch, v)
            event("voucher redeemed" if ok else "voucher rejected")
            if ok:
                amount = cumulative - ch.claimed
                assert redeemed[ch.channel_id] == amount
                assert amount <= cumulative  # never above the signed amount
                ch.balance -= amount
                ch.claimed = cumulative
                ch.last_seq = seq
                total += amount
        self.received += total

    @rule(i=st.integers(0, 2), percent=st.integers(1, 100))
    def request_withdrawal(self, i: int, percent: int) -> None:
        ch = self.channels[i]
        amount = ch.balance * percent // 100
        if amount == 0:
            return
        receipt = self.chain.tx(
            self.chain.escrow.functions.requestWithdrawal(ch.channel_id, amount), ch.owner
        )
        event = self.chain.events(self.chain.escrow, "WithdrawalRequested", receipt)[0]
        ch.withdraw_amount, ch.withdraw_ready_at = amount, event["readyAt"]

    @rule(i=st.integers(0, 2), wait=st.booleans())
    def execute_withdrawal(self, i: int, wait: bool) -> None:
        ch = self.channels[i]
        fn = self.chain.escrow.functions.executeWithdrawal(ch.channel_id)
        if wait and ch.withdraw_ready_at:
            self.chain.warp(WITHDRAWAL_DELAY_S)
        if ch.withdraw_ready_at == 0 or self._now() < ch.withdraw_ready_at:
            try:
                self.chain.tx(fn, ch.owner)
            except (errors.NoWithdrawalPending, errors.WithdrawalNotReady):
                return
            raise AssertionError("withdrawal executed early")
        self.chain.tx(fn, ch.owner)
        amount = min(ch.withdraw_amount, ch.balance)
        ch.balance -= amount
        ch.withdrawn += amount
        event("withdrawal executed")
        ch.withdraw_amount = ch.withdraw_ready_at = 0

    @rule(seconds=st.sampled_from([CHALLENGE_WINDOW_S, EPOCH_LENGTH_S, WITHDRAWAL_DELAY_S]))
    def warp(self, seconds: int) -> None:
        self.chain.warp(seconds)

    # ------------------------------------------------------------------ settlement side

    @rule(
        weights=st.lists(st.integers(0, 10), min_size=4, max_size=4),
        percent=st.sampled_from([0, 37, 100, 100]),
    )
    def propose_root(self, weights: list[int], percent: int) -> None:
        self._propose(weights, percent)

    @rule(weights=st.lists(st.integers(0, 10), min_size=4, max_size=4))
    def settle_epoch(self, weights: list[int]) -> None:
        """What the settlement service does each epoch: redeem every channel's latest
        voucher, then post a root distributing everything received."""
        latest = [(ch, ch.vouchers[-1]) for ch in self.channels if ch.vouchers]
        self._claim([v for _, v in latest], list(latest))
        self._propose(weights, 100)

    def _propose(self, weights: list[int], percent: int) -> None:
        self._settle_pending()
        if self.pending is not None:
            return
        if self.chain.epoch() - 1 < self.next_epoch:
            self.chain.warp(EPOCH_LENGTH_S)
        epoch = self.chain.epoch() - 1
        new_money = (self.received - self.allocated) * percent // 100
        total_weight = sum(weights) or 1
        shares = [new_money * w // total_weight for w in weights]
        dust = new_money - sum(shares)  # floor remainders go to the dust account
        base = self.active.tree.values if self.active else dict.fromkeys(self.payees, 0)
        values = {p: base.get(p, 0) + s for p, s in zip(self.payees, [*shares, dust], strict=True)}
        tree = PayoutTree(values.items())
        receipt = self.chain.tx(
            self.chain.distributor.functions.proposeRoot(epoch, tree.root, new_money, b"\x00" * 32),
            self.chain.roles.settlement,
        )
        ready_at = self.chain.events(self.chain.distributor, "RootProposed", receipt)[0]["readyAt"]
        self.pending = RootModel(epoch, tree, new_money, ready_at)
        event("root proposed")
        self.allocated += new_money
        self.next_epoch = epoch + 1
        for p, v in values.items():
            assert v >= self.max_leaf[p], "cumulative entitlement decreased"
            self.max_leaf[p] = v

    @rule(act=st.integers(0, 2))
    def veto(self, act: int) -> None:
        self._settle_pending()
        if self.pending is None or act != 0:  # the guardian vetoes a minority of roots
            return
        self.chain.tx(
            self.chain.distributor.functions.veto(self.pending.epoch), self.chain.roles.guardian
        )
        self.allocated -= self.pending.total
        self.next_epoch = self.pending.epoch
        self.max_leaf = (
            dict(self.active.tree.values) if self.active else dict.fromkeys(self.payees, 0)
        )
        self.pending = None
        event("root vetoed")

    @rule(data=st.data())
    def payee_claim(self, data: st.DataObject) -> None:
        self._settle_pending()
        if self.active is None and self.pending is not None:
            self.chain.warp(CHALLENGE_WINDOW_S)  # let the proposed root become claimable
            self._settle_pending()
        owed = [p for p in self.payees if self.entitled[p] > self.paid[p]]
        if not owed:
            return
        payee = data.draw(st.sampled_from(owed))
        assert self.active is not None
        cumulative = self.entitled[payee]
        self.chain.tx(
            self.chain.distributor.functions.claimFor(
                payee, cumulative, self.active.tree.proof(payee)
            ),
            self.chain.roles.settlement,
        )
        self.paid[payee] = cumulative
        assert self.chain.distributor.functions.claimed(payee).call() == cumulative
        event("payee paid")

    # ------------------------------------------------------------------ invariants

    @invariant()
    def conservation(self) -> None:
        c = self.chain
        escrow_balance = c.balance(c.deployment.escrow)
        dist_balance = c.balance(c.deployment.distributor)
        for p in self.payees:  # each payee holds exactly what it claimed: monotone, never more
            assert c.balance(p) == self.paid[p]
        payee_balances = sum(self.paid.values())
        for ch in self.channels:
            state = c.channel(ch.channel_id)
            assert (state["balance"], state["claimed"], state["last_seq"]) == (
                ch.balance,
                ch.claimed,
                ch.last_seq,
            )
        withdrawn = sum(ch.withdrawn for ch in self.channels)
        assert escrow_balance == sum(ch.balance for ch in self.channels)
        assert dist_balance == self.received - sum(self.paid.values())
        assert payee_balances == sum(self.paid.values())
        assert self.deposited == escrow_balance + dist_balance + payee_balances + withdrawn

    @invariant()
    def totals_never_exceed_received(self) -> None:
        dist = self.chain.distributor.functions
        received, allocated, claimed = (
            dist.totalReceived().call(),
            dist.totalAllocated().call(),
            dist.totalClaimed().call(),
        )
        assert received == self.received
        assert allocated == self.allocated
        assert claimed <= allocated <= received


def test_random_sequences_keep_the_money_invariants(chain: Chain) -> None:
    EscrowAndDistributor.chain = chain
    run_state_machine_as_test(
        EscrowAndDistributor,
        settings=settings(
            max_examples=8,
            stateful_step_count=35,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
