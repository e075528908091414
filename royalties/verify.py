"""``timbre verify``: recompute an epoch from its published report and say whether it matches.

:func:`verify_report` recomputes every figure and the Merkle root from the report's inputs
alone and returns the first difference, if any. Optionally it also checks the report against
the report of the epoch before (segments only grow, closed ones never change, no leaf goes down)
and against the chain (the root and reportHash proposed for the epoch, and each segment's terms
in ``VoiceRegistry``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from web3.contract import Contract

from contracts.deploy import Contracts
from royalties.chain import TermsReader
from royalties.errors import PayoutError, ReportError
from royalties.payouts import build_payouts
from royalties.report import ReportInputs, canonical_value, figures, load_report, parse_report
from royalties.splits import Segment, entitlements
from storage import ObjectNotFound, ObjectStore


@dataclass(frozen=True)
class Difference:
    """Where the report departs from the recomputation: a JSON path (or a named check), the
    recomputed value and the reported one, both as text."""

    where: str
    expected: str
    reported: str


@dataclass(frozen=True)
class VerifyResult:
    """The outcome: ``difference`` is None when everything matched. ``root`` is the recomputed
    root (None when the report could not be read); ``report_sha256`` the hash of the bytes."""

    epoch: int | None
    root: bytes | None
    report_sha256: bytes
    difference: Difference | None

    @property
    def ok(self) -> bool:
        """Whether the report matched."""
        return self.difference is None


def _first_difference(path: str, expected: Any, reported: Any) -> Difference | None:
    """Depth-first, in document order: the first place two JSON values differ."""
    if isinstance(expected, dict) and isinstance(reported, dict):
        for key in sorted(set(expected) | set(reported)):
            if key not in reported or key not in expected:
                return Difference(f"{path}.{key}", repr(expected.get(key)), repr(reported.get(key)))
            found = _first_difference(f"{path}.{key}", expected[key], reported[key])
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(reported, list):
        for i, (e, r) in enumerate(zip(expected, reported, strict=False)):
            found = _first_difference(f"{path}[{i}]", e, r)
            if found:
                return found
        if len(expected) != len(reported):
            return Difference(f"{path}.length", str(len(expected)), str(len(reported)))
        return None
    if expected != reported or type(expected) is not type(reported):
        return Difference(path, repr(expected), repr(reported))
    return None


def verify_report(
    data: bytes,
    *,
    expected_sha256: bytes | None = None,
    previous: bytes | None = None,
    distributor: Contract | None = None,
    registry: Contract | None = None,
) -> VerifyResult:
    """Recomputes the report ``data`` and returns the first difference, or a match.

    ``expected_sha256``: the hash the report was fetched by. ``previous``: the report of the
    epoch settled before, to check that this one continues it. ``distributor`` / ``registry``:
    bound web3 contracts, to check the on-chain root, reportHash and epochTotal and each
    segment's terms.
    """
    digest = hashlib.sha256(data).digest()

    def result(epoch: int | None, root: bytes | None, diff: Difference | None) -> VerifyResult:
        return VerifyResult(epoch, root, digest, diff)

    if expected_sha256 is not None and digest != expected_sha256:
        return result(None, None, Difference("sha256", expected_sha256.hex(), digest.hex()))
    try:
        inputs, doc = parse_report(data)
    except ReportError as exc:
        return result(None, None, Difference("format", "a canonical report", str(exc)))
    ent = entitlements(inputs.state.segments)
    redeemed = sum(inputs.channels.values())
    if redeemed != ent.gross:
        return result(
            inputs.epoch,
            None,
            Difference("inputs.channels (sum of claimed)", str(ent.gross), str(redeemed)),
        )
    try:
        payouts = build_payouts(inputs.epoch, ent.accounts, previous_total=inputs.previous_total)
    except PayoutError as exc:
        return result(inputs.epoch, None, Difference("payouts", "a valid tree", str(exc)))
    expected = canonical_value(figures(inputs.state.segments, ent, payouts))
    diff = _first_difference("figures", expected, doc.get("figures"))
    if diff is None and previous is not None:
        diff = _check_succession(previous, inputs, dict(payouts.leaves))
    if diff is None and registry is not None:
        diff = _check_terms(registry, inputs.state.segments)
    if diff is None and distributor is not None:
        diff = _check_root(distributor, inputs.epoch, payouts.root, digest, payouts.epoch_total)
    return result(inputs.epoch, payouts.root, diff)


def _check_succession(
    previous: bytes, inputs: ReportInputs, leaves: Mapping[str, int]
) -> Difference | None:
    """The report continues ``previous``: later epoch, same chain, every old segment still
    there with the same terms and no less gross (closed ones unchanged), new segments start
    after the old epoch, no channel's claimed amount and no payee's leaf goes down."""
    try:
        before_report = load_report(previous)
        before, _ = parse_report(previous)
    except ReportError as exc:
        return Difference("previous", "a valid report", str(exc))
    if before.epoch >= inputs.epoch:
        return Difference("epoch", f"> {before.epoch}", str(inputs.epoch))
    if before.chain != inputs.chain:
        return Difference("chain", repr(before.chain), repr(inputs.chain))
    now = {(s.track_id, s.start_epoch): s for s in inputs.state.segments}
    for old in before.state.segments:
        where = f"segment {old.track_id.hex()}@{old.start_epoch}"
        new = now.pop((old.track_id, old.start_epoch), None)
        if new is None:
            return Difference(where, "present (it was in the previous report)", "missing")
        if new.terms != old.terms or new.gross < old.gross:
            return Difference(where, f">= {old}", str(new))
        if old.closed and new != old:
            return Difference(where, f"closed, unchanged: {old}", str(new))
    for seg in now.values():
        if seg.start_epoch <= before.epoch:
            where = f"segment {seg.track_id.hex()}@{seg.start_epoch}"
            return Difference(where, f"start after epoch {before.epoch}", str(seg.start_epoch))
    for channel_id, claimed in before.channels.items():
        if inputs.channels.get(channel_id, 0) < claimed:
            where = f"channel {channel_id}"
            return Difference(where, f">= {claimed}", str(inputs.channels.get(channel_id, 0)))
    for account, cumulative in before_report.payouts.leaves.items():
        if leaves.get(account, 0) < cumulative:
            return Difference(f"leaf {account}", f">= {cumulative}", str(leaves.get(account, 0)))
    return None


def _check_terms(registry: Contract, segments: tuple[Segment, ...]) -> Difference | None:
    """Each segment's terms are the registry's terms version in force at its start epoch, and
    its fan is the track's fan. (The treasury is a single current value on-chain, so a
    segment's treasury is not checked against history.)"""
    reader = TermsReader(registry)
    for s in segments:
        on_chain = replace(reader.terms(s.track_id, s.start_epoch), treasury=s.terms.treasury)
        if on_chain != s.terms:
            where = f"segment {s.track_id.hex()}@{s.start_epoch}.terms"
            return Difference(where, str(on_chain), str(s.terms))
    return None


def _check_root(
    distributor: Contract, epoch: int, root: bytes, report_hash: bytes, epoch_total: int
) -> Difference | None:
    """The last RootProposed event for ``epoch`` carries this root, reportHash and total."""
    logs = distributor.events.RootProposed.get_logs(from_block=0, argument_filters={"epoch": epoch})
    if not logs:
        return Difference("onchain.RootProposed", f"a proposal for epoch {epoch}", "none")
    args = logs[-1]["args"]
    for name, want, got in (
        ("root", "0x" + root.hex(), "0x" + bytes(args["root"]).hex()),
        ("reportHash", "0x" + report_hash.hex(), "0x" + bytes(args["reportHash"]).hex()),
        ("epochTotal", str(epoch_total), str(args["epochTotal"])),
    ):
        if want != got:
            return Difference(f"onchain.{name}", want, got)
    return None


def verify_epoch(
    contracts: Contracts, store: ObjectStore, epoch: int, *, from_block: int = 0
) -> VerifyResult:
    """What ``timbre verify --epoch N`` runs: take the root proposed for ``epoch``, fetch its
    report from storage by the on-chain reportHash (the report's sha256), fetch the report of
    the epoch proposed before it, and verify the report against both and against the chain.
    ``from_block``: the deployment's block (where to start reading events)."""
    logs = contracts.distributor.events.RootProposed.get_logs(from_block=from_block)
    mine = [e["args"] for e in logs if int(e["args"]["epoch"]) == epoch]
    if not mine:
        return VerifyResult(
            epoch, None, b"", Difference("onchain.RootProposed", f"epoch {epoch}", "none")
        )
    earlier = [e["args"] for e in logs if int(e["args"]["epoch"]) < epoch]
    digest = bytes(mine[-1]["reportHash"])
    try:
        data = b"".join(store.iter_bytes(digest.hex()))
        previous = None
        if earlier:
            previous = b"".join(store.iter_bytes(bytes(earlier[-1]["reportHash"]).hex()))
    except ObjectNotFound as exc:
        return VerifyResult(epoch, None, digest, Difference("storage", "the report", str(exc)))
    return verify_report(
        data,
        expected_sha256=digest,
        previous=previous,
        distributor=contracts.distributor,
        registry=contracts.registry,
    )
