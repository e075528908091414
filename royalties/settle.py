"""One settlement epoch, end to end and resumable: redeem vouchers, split, publish, propose.

:func:`settle_epoch` is what ``timbre settle`` runs per epoch. Each step reads the chain and the
object store first, so a run killed anywhere and started again finishes the epoch with no second
payment, no second root and the same report:

1. redeem the latest voucher of every channel (:func:`~royalties.chain.claim_latest_vouchers`
   skips what the escrow already redeemed);
2. if the distributor already holds this epoch's root, read the report it names (reportHash =
   the report's sha256 = its storage key) and return it: nothing else to do;
3. otherwise attribute the redeemed plays to tracks, split with the terms in force, build the
   report, store it (content-addressed: storing it twice keeps one object) and propose the
   root (:func:`~royalties.chain.propose_root_once`).

The caller keeps :attr:`EpochSettlement.state` for the next epoch and posts the ledger entries.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from web3 import Web3

from contracts.deploy import Contracts
from contracts.eip712 import Voucher
from contracts.transact import Sender
from royalties.chain import (
    ClaimResult,
    ProposeResult,
    TermsReader,
    channel_claimed,
    claim_latest_vouchers,
    propose_root_once,
)
from royalties.errors import ChainError
from royalties.gross import ChargedPlay, covered_gross
from royalties.payouts import Payouts
from royalties.report import ChainRef, build_report, load_report
from royalties.splits import SplitState, advance
from storage import ObjectStore

REPORT_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class EpochSettlement:
    """The settled epoch: the split ``state`` after it, the report's bytes and sha256 (its
    storage key and on-chain reportHash), the payouts (root, leaves, proofs) and what was sent:
    ``claim`` (voucher redemptions) and ``proposal`` (None when the root was already there)."""

    epoch: int
    state: SplitState
    report_data: bytes
    report_sha256: bytes
    payouts: Payouts
    claim: ClaimResult
    proposal: ProposeResult | None


def settle_epoch(
    *,
    w3: Web3,
    contracts: Contracts,
    sender: Sender,
    store: ObjectStore,
    state: SplitState,
    epoch: int,
    plays: Iterable[ChargedPlay],
    vouchers: Sequence[tuple[Voucher, bytes]],
    channel_ids: Iterable[int],
    previous_leaves: Mapping[str, int] | None,
    chain: ChainRef,
    code_version: str,
    since: Mapping[int, int] | None = None,
    from_block: int = 0,
) -> EpochSettlement:
    """Settles ``epoch`` (see the module docstring).

    ``state`` is the split state after the previous settled epoch; ``plays`` every accepted
    play so far, in seq order per channel, or, with ``since`` (each channel's redeemed amount
    at the previous settlement: the previous report's channels), only the plays after it;
    ``vouchers`` the latest accepted voucher of each channel whose play falls in an epoch up
    to ``epoch``; ``channel_ids`` every channel; ``previous_leaves`` the last root's leaves;
    ``from_block`` the deployment's block.
    """
    claim = claim_latest_vouchers(w3, contracts.escrow, sender, vouchers)
    standing = _standing_report(contracts, store, epoch, from_block)
    if standing is not None:
        data, digest = standing
        stored = load_report(data)
        return EpochSettlement(epoch, stored.state, data, digest, stored.payouts, claim, None)
    claimed = channel_claimed(
        contracts.escrow, set(channel_ids) | {v.channel_id for v, _ in vouchers}
    )
    before = state.track_gross()
    if since is None:
        gross = covered_gross(plays, claimed)
    else:
        gross = covered_gross(plays, claimed, since=since, base=before)
    reader = TermsReader(contracts.registry)
    terms = {t: reader.terms(t, epoch) for t, g in gross.items() if g != before.get(t, 0)}
    dust_account = str(contracts.registry.functions.dustAccount().call())
    new_state = advance(state, epoch, gross, terms, dust_account)
    report = build_report(
        epoch=epoch,
        state=new_state,
        channels=claimed,
        dust_account=dust_account,
        previous_total=int(contracts.distributor.functions.totalAllocated().call()),
        previous_leaves=previous_leaves,
        chain=chain,
        code_version=code_version,
    )
    store.put(
        io.BytesIO(report.data),
        expected_sha256=report.sha256.hex(),
        content_type=REPORT_CONTENT_TYPE,
    )
    proposal = propose_root_once(
        w3, contracts.distributor, sender, report.payouts, report.sha256, from_block=from_block
    )
    return EpochSettlement(
        epoch, new_state, report.data, report.sha256, report.payouts, claim, proposal
    )


def _standing_report(
    contracts: Contracts, store: ObjectStore, epoch: int, from_block: int
) -> tuple[bytes, bytes] | None:
    """(bytes, sha256) of the report behind the root standing for ``epoch``, if one stands."""
    if int(contracts.distributor.functions.nextEpoch().call()) <= epoch:
        return None  # not proposed yet, or vetoed: propose (again)
    logs = contracts.distributor.events.RootProposed.get_logs(
        from_block=from_block, argument_filters={"epoch": epoch}
    )
    if not logs:
        raise ChainError(f"a later epoch than {epoch} was proposed; epoch {epoch} is closed")
    digest = bytes(logs[-1]["args"]["reportHash"])
    data = b"".join(store.iter_bytes(digest.hex()))
    return data, digest
