"""The epoch report: everything needed to recompute an epoch's root, as canonical JSON.

Canonical form (so that one report has one byte string and one hash): UTF-8 JSON, keys sorted,
no whitespace (``separators=(",", ":")``), ASCII only; integers whose magnitude is above 2^53
are decimal strings (JSON numbers beyond that lose precision in JavaScript), all others are
numbers; byte strings are ``0x`` + lowercase hex; addresses are EIP-55 checksummed; lists are
sorted (channels by id, segments by (track, start epoch), payees by address).

The document (``format`` :data:`REPORT_FORMAT`)::

    {"format", "code_version", "epoch",
     "chain": {"chain_id", "registry", "escrow", "distributor"},
     "inputs": {
        "channels": [{"channel_id", "claimed"}],         # cumulative base units redeemed
        "dust_account",                                  # receives remainders closed now
        "previous_total",                                # distributor totalAllocated before
        "segments": [{"track_id", "start_epoch", "gross", "dust_account" | null,
                      "terms": {"version", "creator", "fan", "treasury",
                                "creator_bps", "fan_bps", "platform_bps"}}]},
     "figures": {
        "tracks": [{"track_id", "gross", "segments": [{"start_epoch", "creator", "fan",
                    "platform", "remainder"}]}],
        "payees": [{"account", "cumulative"}],
        "dust": {"allocated", "pending"},
        "gross", "total", "epoch_total", "root", "leaf_count"}}

Hashes: :attr:`Report.sha256` is both the object-store key and ``proposeRoot``'s
``reportHash`` (``RoyaltyDistributor`` documents reportHash as the sha256 of the published
report, so the on-chain hash is also the report's address in storage). :attr:`Report.keccak256`
is given for tools that want the EVM's hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak

from royalties.errors import PayoutError, ReportError, SplitError
from royalties.payouts import Payouts, build_payouts
from royalties.splits import Entitlements, Segment, SplitState, Terms, checksum, entitlements

REPORT_FORMAT = "timbre-settlement-report/1"
JSON_SAFE_INT = 2**53


@dataclass(frozen=True)
class ChainRef:
    """Which deployment an epoch settles: chain id and contract addresses."""

    chain_id: int
    registry: str
    escrow: str
    distributor: str


# ---------------------------------------------------------------------- canonical JSON


def canonical_value(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value) if abs(value) > JSON_SAFE_INT else value
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Mapping):
        return {str(k): canonical_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical_value(v) for v in value]
    raise ReportError(f"cannot put {type(value).__name__} in a report")


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """The canonical bytes of ``document`` (rules in the module docstring)."""
    return json.dumps(
        canonical_value(document), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode("ascii")


def _int(value: Any, what: str) -> int:
    """An int field as canonically encoded: a number up to 2^53, a decimal string beyond."""
    if isinstance(value, bool):
        raise ReportError(f"{what}: expected an integer, got {value!r}")
    if isinstance(value, int) and abs(value) <= JSON_SAFE_INT:
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        n = int(value)
        if abs(n) > JSON_SAFE_INT and str(n) == value:
            return n
    raise ReportError(f"{what}: not a canonical integer: {value!r}")


def _bytes(value: Any, what: str, length: int) -> bytes:
    if isinstance(value, str) and value.startswith("0x") and value == value.lower():
        try:
            raw = bytes.fromhex(value[2:])
        except ValueError:
            raw = b""
        if len(raw) == length:
            return raw
    raise ReportError(f"{what}: expected 0x + {2 * length} lowercase hex digits, got {value!r}")


def _address(value: Any, what: str) -> str:
    try:
        if isinstance(value, str) and checksum(value) == value:
            return value
    except SplitError:
        pass
    raise ReportError(f"{what}: expected a checksummed address, got {value!r}")


# ---------------------------------------------------------------------- building


def _terms_doc(t: Terms) -> dict[str, Any]:
    return {
        "version": t.version,
        "creator": t.creator,
        "fan": t.fan,
        "treasury": t.treasury,
        "creator_bps": t.creator_bps,
        "fan_bps": t.fan_bps,
        "platform_bps": t.platform_bps,
    }


def figures(segments: tuple[Segment, ...], ent: Entitlements, payouts: Payouts) -> dict[str, Any]:
    """The report's ``figures`` section, computed from its inputs."""
    tracks: dict[bytes, dict[str, Any]] = {}
    for s in segments:
        track = tracks.setdefault(s.track_id, {"track_id": s.track_id, "gross": 0, "segments": []})
        track["gross"] += s.gross
        (_, creator), (_, fan), (_, platform) = s.role_amounts()
        track["segments"].append(
            {
                "start_epoch": s.start_epoch,
                "creator": creator,
                "fan": fan,
                "platform": platform,
                "remainder": s.remainder(),
            }
        )
    return {
        "tracks": [tracks[t] for t in sorted(tracks)],
        "payees": [{"account": a, "cumulative": v} for a, v in payouts.leaves.items()],
        "dust": {"allocated": ent.dust_allocated, "pending": ent.dust_pending},
        "gross": ent.gross,
        "total": payouts.total,
        "epoch_total": payouts.epoch_total,
        "root": payouts.root,
        "leaf_count": len(payouts.leaves),
    }


@dataclass(frozen=True)
class Report:
    """A built report: the document, its canonical bytes and hashes, the split state it
    settles and its payouts."""

    document: Mapping[str, Any]
    data: bytes
    state: SplitState
    payouts: Payouts
    entitlements: Entitlements

    @property
    def sha256(self) -> bytes:
        """sha256 of :attr:`data`: the storage key and ``proposeRoot``'s reportHash."""
        return hashlib.sha256(self.data).digest()

    @property
    def keccak256(self) -> bytes:
        """keccak256 of :attr:`data`."""
        return bytes(keccak(self.data))


def build_report(
    *,
    epoch: int,
    state: SplitState,
    channels: Mapping[int, int],
    dust_account: str,
    previous_total: int,
    previous_leaves: Mapping[str, int] | None = None,
    chain: ChainRef,
    code_version: str,
) -> Report:
    """The report of ``epoch`` after ``state = advance(..., epoch, ...)``.

    ``channels`` maps channel ids to their cumulative amount redeemed on-chain (base units),
    ``previous_total`` is the distributor's ``totalAllocated`` before this root and
    ``previous_leaves`` the last root's leaves (checked not to go down).
    """
    if state.epoch != epoch:
        raise ReportError(f"split state is at epoch {state.epoch}, not {epoch}")
    ent = entitlements(state.segments)
    if sum(channels.values()) != ent.gross:
        raise ReportError(
            f"channels redeemed {sum(channels.values())} but tracks earned {ent.gross}: "
            "every redeemed unit must be attributed to a play"
        )
    payouts = build_payouts(
        epoch, ent.accounts, previous_total=previous_total, previous_leaves=previous_leaves
    )
    document = {
        "format": REPORT_FORMAT,
        "code_version": code_version,
        "epoch": epoch,
        "chain": {
            "chain_id": chain.chain_id,
            "registry": checksum(chain.registry),
            "escrow": checksum(chain.escrow),
            "distributor": checksum(chain.distributor),
        },
        "inputs": {
            "channels": [{"channel_id": c, "claimed": channels[c]} for c in sorted(channels)],
            "dust_account": checksum(dust_account),
            "previous_total": previous_total,
            "segments": [
                {
                    "track_id": s.track_id,
                    "start_epoch": s.start_epoch,
                    "gross": s.gross,
                    "dust_account": s.dust_account,
                    "terms": _terms_doc(s.terms),
                }
                for s in state.segments
            ],
        },
        "figures": figures(state.segments, ent, payouts),
    }
    return Report(document, canonical_json(document), state, payouts, ent)


# ---------------------------------------------------------------------- reading


def load_report(data: bytes) -> Report:
    """A stored report rebuilt from its inputs (payouts, proofs, entitlements); ReportError
    unless rebuilding gives back exactly ``data``."""
    inputs, _ = parse_report(data)
    try:
        report = build_report(
            epoch=inputs.epoch,
            state=inputs.state,
            channels=inputs.channels,
            dust_account=inputs.dust_account,
            previous_total=inputs.previous_total,
            chain=inputs.chain,
            code_version=inputs.code_version,
        )
    except (SplitError, PayoutError) as exc:
        raise ReportError(f"report inputs do not settle: {exc}") from exc
    if report.data != data:
        raise ReportError("report figures do not follow from its inputs (run verify_report)")
    return report


@dataclass(frozen=True)
class ReportInputs:
    """A report's inputs, parsed and checked for form (not yet for correctness)."""

    epoch: int
    code_version: str
    chain: ChainRef
    channels: Mapping[int, int]
    dust_account: str
    previous_total: int
    state: SplitState


def parse_report(data: bytes) -> tuple[ReportInputs, dict[str, Any]]:
    """(inputs, whole document) of a report; ReportError unless ``data`` is a canonical
    report of :data:`REPORT_FORMAT`."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != REPORT_FORMAT:
        raise ReportError(f"not a {REPORT_FORMAT} document")
    try:
        inputs = _parse_inputs(doc)
    except (KeyError, TypeError, AttributeError, SplitError) as exc:
        raise ReportError(f"malformed report: {exc!r}") from exc
    if canonical_json(doc) != data:
        raise ReportError("report is not in canonical form")
    return inputs, doc


def _parse_inputs(doc: dict[str, Any]) -> ReportInputs:
    chain = doc["chain"]
    inputs = doc["inputs"]
    epoch = _int(doc["epoch"], "epoch")
    channels: dict[int, int] = {}
    for c in inputs["channels"]:
        channel_id = _int(c["channel_id"], "channel_id")
        if channel_id in channels:
            raise ReportError(f"channel {channel_id} appears twice")
        channels[channel_id] = _int(c["claimed"], "claimed")
    if list(channels) != sorted(channels):
        raise ReportError("channels are not sorted by channel_id")
    segments = []
    for s in inputs["segments"]:
        t = s["terms"]
        terms = Terms(
            version=_int(t["version"], "version"),
            creator=_address(t["creator"], "creator"),
            fan=_address(t["fan"], "fan"),
            treasury=_address(t["treasury"], "treasury"),
            creator_bps=_int(t["creator_bps"], "creator_bps"),
            fan_bps=_int(t["fan_bps"], "fan_bps"),
            platform_bps=_int(t["platform_bps"], "platform_bps"),
        )
        dust = s["dust_account"]
        segments.append(
            Segment(
                track_id=_bytes(s["track_id"], "track_id", 32),
                start_epoch=_int(s["start_epoch"], "start_epoch"),
                terms=terms,
                gross=_int(s["gross"], "gross"),
                dust_account=None if dust is None else _address(dust, "dust_account"),
            )
        )
    ordered = sorted(segments, key=lambda s: (s.track_id, s.start_epoch))
    if ordered != segments:
        raise ReportError("segments are not sorted by (track_id, start_epoch)")
    code_version = doc["code_version"]
    if not isinstance(code_version, str):
        raise ReportError("code_version must be a string")
    return ReportInputs(
        epoch=epoch,
        code_version=code_version,
        chain=ChainRef(
            _int(chain["chain_id"], "chain_id"),
            _address(chain["registry"], "registry"),
            _address(chain["escrow"], "escrow"),
            _address(chain["distributor"], "distributor"),
        ),
        channels=channels,
        dust_account=_address(inputs["dust_account"], "dust_account"),
        previous_total=_int(inputs["previous_total"], "previous_total"),
        state=SplitState(epoch, tuple(segments)),
    )
