"""``POST /v1/access``: one play paid by one voucher.

The voucher rules are :func:`royalties.vouchers.accept_voucher`'s; this module gathers the
channel's state (SQL meter + chain), applies the verdict and records the play, the voucher and
its ledger posting in one database transaction.

Concurrency: the channel's meter row is locked (``SELECT ... FOR UPDATE`` where the engine has
it) and then updated with a compare-and-set on ``last_seq``; ``(channel_id, seq)`` is unique in
both vouchers and plays. Two accesses racing on one channel with the same seq cannot both pass:
the second finds the seq taken and is refused as stale."""

from __future__ import annotations

import functools
import http.client
import json
import threading
import uuid
from base64 import b64encode
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from eth_abi.abi import decode
from eth_utils.abi import function_abi_to_4byte_selector
from eth_utils.address import to_checksum_address
from sqlalchemy import (
    ColumnElement,
    Select,
    TextClause,
    and_,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts.eip712 import Eip712Domain, escrow_domain
from contracts.eip712 import Voucher as SignedVoucher
from royalties.chain import erc1271_checker
from royalties.ledger import Transaction, post_play
from royalties.usage_log import UsageFrontier, UsageRecord, inclusion_proof, usage_root
from royalties.vouchers import (
    MAX_CLOCK_SKEW_S,
    Accepted,
    ChannelState,
    Play,
    Reason,
    accept_voucher,
)
from studio.auth.api_keys import KeyCaller
from studio.db.models import (
    ChannelMeter,
    LedgerEntry,
    LedgerTransaction,
    ModelTerms,
    Platform,
    Track,
)
from studio.db.models import Play as PlayRow
from studio.db.models import Voucher as VoucherRow
from studio.db.types import utcnow
from studio.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    TimbreError,
    Unprocessable,
)
from studio.services import Services
from studio.settlement import ledger
from studio.settlement.chain import SettlementChain, answers_503, require_chain
from studio.settlement.schemas import AccessIn, AccessOut, PlayProofOut
from studio.settlement.tracks import PLAYABLE


class PaymentRequired(TimbreError):
    status_code = 402
    code = "payment_required"


class Gone(TimbreError):
    status_code = 410
    code = "gone"


_STATUS: dict[Reason, type[TimbreError]] = {
    Reason.WRONG_CHANNEL: Forbidden,
    Reason.WITHDRAWAL_PENDING: Conflict,
    Reason.REPLAY: Conflict,
    Reason.STALE_SEQ: Conflict,
    Reason.BAD_TIMESTAMP: Unprocessable,
    Reason.UNDERPAID: PaymentRequired,
    Reason.OVERPAID: Unprocessable,
    Reason.UNDER_FUNDED: PaymentRequired,
    Reason.USAGE_ROOT_MISMATCH: Unprocessable,
    Reason.BAD_SIGNATURE: Forbidden,
    Reason.WRONG_SIGNER: Forbidden,
}


@dataclass(frozen=True)
class _OnChain:
    signer: str
    balance: int
    claimed: int
    withdrawal_pending: bool
    signer_is_contract: bool


# A channel's signer is fixed for the channel's life (PlayEscrow.openChannel), so whether it is
# a contract is looked up once per signer.
_CONTRACT_SIGNERS: dict[str, bool] = {}


@dataclass(frozen=True)
class _ChannelCall:
    """``PlayEscrow.getChannel`` as one raw ``eth_call``: the selector and the struct's ABI
    types worked out once. Building a web3 ContractFunction per play costs more (ABI
    validation, dozens of keccaks) than the round trip itself."""

    escrow: str
    selector: str
    output: str
    names: tuple[str, ...]
    static: bool  # every field one 32-byte word: decoded by slicing


_CHANNEL_CALLS: dict[str, _ChannelCall] = {}
_STATIC_TYPES = ("address", "bool", "uint", "int", "bytes32")


def _channel_call(chain: SettlementChain) -> _ChannelCall:
    escrow = chain.deployment.escrow
    call = _CHANNEL_CALLS.get(escrow)
    if call is None:
        fn = chain.contracts.escrow.functions.getChannel(0)
        components = fn.abi["outputs"][0]["components"]
        types = [c["type"] for c in components]
        call = _ChannelCall(
            escrow,
            "0x" + bytes(function_abi_to_4byte_selector(fn.abi)).hex(),
            "(" + ",".join(types) + ")",
            tuple(c["name"] for c in components),
            all(t.startswith(_STATIC_TYPES) and not t.endswith("]") for t in types),
        )
        _CHANNEL_CALLS[escrow] = call
    return call


class JsonRpc:
    """The one chain read an access makes, without web3: a JSON-RPC POST on a pooled
    keep-alive connection. web3's provider (requests, middleware, response formatters) costs
    about 1-2 ms of CPU per call; this costs a tenth of that. Read-only calls only, so a
    request on a connection the node closed while idle is sent again on a new one."""

    def __init__(self, url: str, timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the chain RPC URL must be http(s)://host[:port][/path]")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = {"Content-Type": "application/json"}
        if parts.username is not None:
            user_pass = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self._headers["Authorization"] = "Basic " + b64encode(user_pass.encode()).decode()
        self._timeout_s = timeout_s
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connect(self) -> tuple[http.client.HTTPConnection, bool]:
        """A connection and whether it was idle in the pool (the node may have closed it)."""
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return kind(self._host, self._port, timeout=self._timeout_s), False

    def call(self, method: str, params: list[Any]) -> Any:
        """The call's ``result``; ServiceUnavailable (chain_unavailable) when the node does
        not answer (connection refused, or no answer within the timeout: never waited for
        twice) or answers an error."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        while True:
            conn, reused = self._connect()
            try:
                conn.request("POST", self._path, body.encode(), self._headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if reused and not isinstance(exc, TimeoutError):
                    continue  # a keep-alive connection the node closed while idle: a new one
                raise ServiceUnavailable(
                    "The chain did not answer.", code="chain_unavailable"
                ) from exc
            if response.will_close:
                conn.close()
            else:
                with self._lock:
                    self._idle.append(conn)
            break
        try:
            reply = json.loads(data) if response.status == 200 else {}
        except ValueError:
            reply = {}
        if not isinstance(reply, dict) or "error" in reply or "result" not in reply:
            raise ServiceUnavailable("The chain did not answer.", code="chain_unavailable")
        return reply["result"]

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def __del__(self) -> None:
        self.close()


_RPCS: dict[str, JsonRpc] = {}
_RPCS_LOCK = threading.Lock()


def _rpc(url: str) -> JsonRpc:
    rpc = _RPCS.get(url)
    if rpc is None:
        with _RPCS_LOCK:
            rpc = _RPCS.setdefault(url, JsonRpc(url, timeout_s=5))  # as the API's web3 (services)
    return rpc


@functools.lru_cache(maxsize=4096)
def _checksum(address: int) -> str:
    return to_checksum_address(address.to_bytes(20, "big"))


def read_channel(chain: SettlementChain, rpc_url: str, channel_id: int) -> _OnChain:
    """The channel as the chain's latest block has it, read on every access.

    Why not cached: the signer is fixed for the channel's life (cached below), and the
    channel's funds (balance + claimed) only fall through ``executeWithdrawal``, which needs a
    withdrawal requested ``WITHDRAWAL_DELAY`` earlier — but a *request* can land in any block,
    and from then on streaming must stop at once (``withdrawal_pending``: a voucher accepted
    after it could be signed against money that leaves before the next claim). No cache of
    the channel's state can see a request made after it was filled, so the state is read per
    play; the read is kept cheap instead (one raw ``eth_call``, see :class:`JsonRpc`)."""
    call = _channel_call(chain)
    data = call.selector + channel_id.to_bytes(32, "big").hex()
    result = _rpc(rpc_url).call("eth_call", [{"to": call.escrow, "data": data}, "latest"])
    if not isinstance(result, str) or not result.startswith("0x"):
        raise ServiceUnavailable("The chain did not answer.", code="chain_unavailable")
    raw = bytes.fromhex(result[2:])
    c: dict[str, Any]
    if call.static and len(raw) == 32 * len(call.names):
        c = {
            name: int.from_bytes(raw[32 * i : 32 * i + 32], "big")
            for i, name in enumerate(call.names)
        }
        signer_int = c["signer"]
        signer = _checksum(signer_int) if signer_int else ""
    else:
        (values,) = decode([call.output], raw)
        c = dict(zip(call.names, values, strict=True))
        signer = to_checksum_address(c["signer"])
        signer_int = int(signer, 16)
    if signer_int == 0:
        raise NotFound("The channel does not exist on-chain.", code="channel_not_found")
    is_contract = _CONTRACT_SIGNERS.get(signer)
    if is_contract is None:
        code = _rpc(rpc_url).call("eth_getCode", [signer, "latest"])
        is_contract = _CONTRACT_SIGNERS[signer] = isinstance(code, str) and code not in ("0x", "")
    return _OnChain(
        signer=signer,
        balance=int(c["balance"]),
        claimed=int(c["claimed"]),
        withdrawal_pending=int(c["withdrawReadyAt"]) != 0,
        signer_is_contract=is_contract,
    )


@dataclass(frozen=True)
class _Priced:
    """The track asked for and the terms version that prices its play."""

    track_id: uuid.UUID
    content_sha256: str
    terms_id: uuid.UUID
    price: int


def _priced(where: ColumnElement[bool]) -> Select[uuid.UUID, str, str, uuid.UUID, int]:
    """Built once: a play builds no statement, only binds ``ref`` and ``epoch``."""
    return (
        select(
            Track.id, Track.status, Track.content_sha256, ModelTerms.id, ModelTerms.price_per_play
        )
        .outerjoin(
            ModelTerms,
            and_(
                ModelTerms.voice_model_id == Track.voice_model_id,
                ModelTerms.status == "active",
                ModelTerms.effective_epoch <= bindparam("epoch"),
            ),
        )
        .where(where)
        .order_by(ModelTerms.version.desc())
        .limit(1)
    )


_PRICED_BY_ID = _priced(Track.id == bindparam("ref"))
_PRICED_BY_ONCHAIN_ID = _priced(Track.onchain_id == bindparam("ref"))


def priced_track(db: Session, ref: str, epoch: int) -> _Priced:
    """The playable track ``ref`` (id or on-chain 0x hash) with its voice's active terms
    version in force in ``epoch`` (what the registry's termsAt answers): its price is the
    play's price. One query."""
    key: str | uuid.UUID
    if ref.startswith("0x"):
        statement, key = _PRICED_BY_ONCHAIN_ID, ref.lower()
    else:
        try:
            statement, key = _PRICED_BY_ID, uuid.UUID(ref)
        except ValueError:
            raise NotFound("No such track.", code="unknown_track") from None
    row = db.execute(statement, {"ref": key, "epoch": epoch}).one_or_none()
    if row is None or row[1] not in (PLAYABLE, "retired"):
        raise NotFound("No such track.", code="unknown_track")
    if row[1] == "retired":
        raise Gone("This track is retired; it takes no new plays.", code="track_retired")
    if row[3] is None:
        raise Conflict("The track's voice has no terms in force yet.", code="track_not_priced")
    return _Priced(row[0], row[2], row[3], int(row[4]))


@dataclass(frozen=True)
class _Meter:
    """A channel's meter row as read under its lock."""

    channel_id: str
    last_seq: int
    charged: int
    last_digest: str | None
    last_timestamp: int
    usage_size: int
    usage_peaks: list[str]


_METER_COLUMNS = (
    ChannelMeter.last_seq,
    ChannelMeter.charged,
    ChannelMeter.last_digest,
    ChannelMeter.last_timestamp,
    ChannelMeter.usage_size,
    ChannelMeter.usage_peaks,
)


_METER_LOCKED = (
    select(*_METER_COLUMNS)
    .where(ChannelMeter.channel_id == bindparam("channel_id"))
    .with_for_update()
)


def _meter(db: Session, platform_id: uuid.UUID, channel_id: str) -> _Meter:
    row = db.execute(_METER_LOCKED, {"channel_id": channel_id}).one_or_none()
    if row is not None:
        return _Meter(channel_id, *row)
    try:
        db.execute(
            insert(ChannelMeter).values(
                channel_id=channel_id,
                platform_id=platform_id,
                last_seq=0,
                charged=0,
                last_timestamp=0,
                usage_size=0,
                usage_peaks=[],
            )
        )
    except IntegrityError as exc:  # another first access on this channel won the insert
        db.rollback()
        raise _stale(1) from exc
    return _Meter(channel_id, 0, 0, None, 0, 0, [])


def meter_state(meter: _Meter, on_chain: _OnChain) -> ChannelState:
    return ChannelState(
        channel_id=int(meter.channel_id),
        signer=on_chain.signer,
        balance=on_chain.balance,
        claimed_onchain=on_chain.claimed,
        withdrawal_pending=on_chain.withdrawal_pending,
        signer_is_contract=on_chain.signer_is_contract,
        last_seq=meter.last_seq,
        charged=meter.charged,
        last_digest=bytes.fromhex(meter.last_digest[2:]) if meter.last_digest else None,
        last_timestamp=meter.last_timestamp,
        usage=UsageFrontier(meter.usage_size, tuple(bytes.fromhex(p) for p in meter.usage_peaks)),
    )


@answers_503
def access(db: Session, services: Services, caller: KeyCaller, body: AccessIn) -> AccessOut:
    """Verifies the voucher for one play of ``body.track_id`` and records it; raises a 4xx
    TimbreError (code = the refusal reason) otherwise, changing nothing.

    Round trips: one query for the track and its price, the meter row under its lock, one
    ``eth_call`` for the channel, then the writes and the commit (see :func:`_record`)."""
    channel_id = caller.channel_id
    if channel_id is None:
        raise Conflict("Open and link an escrow channel first.", code="channel_not_open")
    chain = require_chain(services)
    now = services.clock()
    now_s = int(now.timestamp())
    # A timestamp outside the skew is refused by the voucher rules (bad_timestamp); price the
    # play at now's epoch until then, so that the refusal names the right reason.
    in_skew = abs(body.timestamp - now_s) <= MAX_CLOCK_SKEW_S
    d = chain.deployment
    epoch = d.epoch_at(body.timestamp if in_skew else now_s)
    track = priced_track(db, body.track_id, epoch)
    meter = _meter(db, caller.platform_id, channel_id)
    on_chain = read_channel(chain, services.settings.chain_rpc_url, int(channel_id))
    state = meter_state(meter, on_chain)
    v = body.voucher
    voucher = SignedVoucher(
        int(v.channel_id), int(v.cumulative_amount), bytes.fromhex(v.usage_root[2:]), v.seq
    )
    verdict = accept_voucher(
        state,
        Play(bytes.fromhex(track.content_sha256), track.price, body.timestamp),
        voucher,
        bytes.fromhex(body.signature[2:]),
        _domain(d.chain_id, d.escrow),
        now=now_s,
        erc1271=erc1271_checker(chain.w3) if state.signer_is_contract else None,
    )
    if not isinstance(verdict, Accepted):
        db.rollback()
        raise _STATUS[verdict.reason](
            verdict.message,
            code=verdict.reason.value,
            detail={k: str(val) for k, val in verdict.detail.items()},
        )
    return _record(db, services, caller.platform_id, meter, track, verdict, body, epoch, now)


@functools.lru_cache(maxsize=16)
def _domain(chain_id: int, escrow: str) -> Eip712Domain:
    return escrow_domain(chain_id, escrow)


def _record(
    db: Session,
    services: Services,
    platform_id: uuid.UUID,
    meter: _Meter,
    track: _Priced,
    ok: Accepted,
    body: AccessIn,
    epoch: int,
    now: datetime,
) -> AccessOut:
    """The accepted play's writes, as Core statements (no unit of work to flush): the meter's
    compare-and-set on ``last_seq``, the voucher, the play and its ledger posting, then the
    commit. On PostgreSQL all of them go in one statement (one round trip instead of five)."""
    new = ok.state
    voucher_id, play_id = uuid.uuid4(), uuid.uuid4()
    tx = post_play(
        int(meter.channel_id),
        bytes.fromhex(track.content_sha256),
        track.price,
        ref=f"channel {meter.channel_id} seq {new.last_seq}",
    )
    params: dict[str, Any] = {
        "channel_id": meter.channel_id,
        "old_seq": meter.last_seq,
        "seq": new.last_seq,
        "charged": new.charged,
        "digest": "0x" + ok.digest.hex(),
        "ts": body.timestamp,
        "usage_size": new.usage.size,
        "peaks": [p.hex() for p in new.usage.peaks],
        "now": now,
        "voucher_id": voucher_id,
        "platform_id": platform_id,
        "usage_root": "0x" + new.usage.root().hex(),
        "signature": body.signature,
        "play_id": play_id,
        "track_id": track.track_id,
        "terms_id": track.terms_id,
        "price": track.price,
        "epoch": epoch,
        "usage_index": ok.index,
    }
    try:
        if db.get_bind().dialect.name == "postgresql":
            swapped = _write_in_one_statement(db, params, tx)
        else:
            swapped = _write_in_statements(db, params, tx)
        if swapped != 1:
            db.rollback()
            raise _stale(new.last_seq)
        db.commit()
    except IntegrityError as exc:
        db.rollback()
        raise _stale(new.last_seq) from exc
    ttl = timedelta(seconds=services.settings.signed_url_ttl_s)
    url = services.store.signed_url(track.content_sha256, expires=ttl)
    return AccessOut(
        play_id=play_id,
        stream_url=url,
        expires_at=now + ttl,
        track_onchain_id="0x" + track.content_sha256,
        price=str(track.price),
        channel_id=meter.channel_id,
        seq=new.last_seq,
        cumulative_amount=str(new.charged),
        usage_index=ok.index,
        epoch=epoch,
    )


def _column_types() -> dict[str, Any]:
    m, v, p, t, e = (
        ChannelMeter.__table__.c,
        VoucherRow.__table__.c,
        PlayRow.__table__.c,
        LedgerTransaction.__table__.c,
        LedgerEntry.__table__.c,
    )
    return {
        "peaks": m.usage_peaks.type,
        "now": m.updated_at.type,
        "charged": m.charged.type,
        "voucher_id": v.id.type,
        "platform_id": v.platform_id.type,
        "play_id": p.id.type,
        "track_id": p.track_id.type,
        "terms_id": p.model_terms_id.type,
        "price": p.price.type,
        "created": t.created_at.type,
        "amount": e.amount.type,
    }


def _write_in_statements(db: Session, p: dict[str, Any], tx: Transaction) -> int:
    """Any engine: the compare-and-set, then (if it matched) the inserts, one by one."""
    swapped = db.execute(
        update(ChannelMeter)
        .where(ChannelMeter.channel_id == p["channel_id"], ChannelMeter.last_seq == p["old_seq"])
        .values(
            last_seq=p["seq"],
            charged=p["charged"],
            last_digest=p["digest"],
            last_timestamp=p["ts"],
            usage_size=p["usage_size"],
            usage_peaks=p["peaks"],
            updated_at=p["now"],
        )
        .execution_options(synchronize_session=False)
    )
    if swapped.rowcount != 1:  # type: ignore[attr-defined]
        return 0
    db.execute(
        insert(VoucherRow).values(
            id=p["voucher_id"],
            platform_id=p["platform_id"],
            channel_id=p["channel_id"],
            seq=p["seq"],
            cumulative_amount=p["charged"],
            usage_root=p["usage_root"],
            signature=p["signature"],
            received_at=p["now"],
        )
    )
    db.execute(
        insert(PlayRow).values(
            id=p["play_id"],
            track_id=p["track_id"],
            platform_id=p["platform_id"],
            voucher_id=p["voucher_id"],
            model_terms_id=p["terms_id"],
            price=p["price"],
            epoch=p["epoch"],
            played_at=p["now"],
            channel_id=p["channel_id"],
            seq=p["seq"],
            cumulative=p["charged"],
            timestamp=p["ts"],
            usage_index=p["usage_index"],
        )
    )
    # (channel, seq) was just won by the compare-and-set above: the posting is new (the
    # unique (kind, ref) constraint still backs that).
    ledger.insert_new(db, tx)
    return 1


@functools.cache
def _one_statement(legs: int) -> TextClause:
    """PostgreSQL: the compare-and-set and the inserts as data-modifying CTEs of one
    statement (one round trip instead of five), answering how many meter rows the
    compare-and-set matched. Every part runs whatever the others match: when the
    compare-and-set misses (0), the caller rolls the whole transaction back. The play's foreign
    key to its voucher is checked at the end of the statement, when both rows exist. A fixed
    text: nothing to build or cache-key per play."""
    # Constant text (table and column names, loop indices); every value is a bound parameter.
    entries = " UNION ALL ".join(
        "SELECT id, :account#, :amount# FROM ledger_tx_new".replace("#", str(i))
        for i in range(legs)
    )
    ledger_ctes = (
        "".join(
            (
                ", ledger_tx_new AS (INSERT INTO ledger_transactions (kind, ref, created_at) ",
                "VALUES (:kind, :ref, :created) RETURNING id), ledger_entries_new AS (",
                "INSERT INTO ledger_entries (transaction_id, account, amount) ",
                entries,
                " RETURNING 1)",
            )
        )
        if legs
        else ""
    )
    sql = "".join(
        (
            "WITH meter_swap AS (UPDATE channel_meters SET last_seq = :seq, charged = :charged, ",
            "last_digest = :digest, last_timestamp = :ts, usage_size = :usage_size, ",
            "usage_peaks = :peaks, updated_at = :now ",
            "WHERE channel_id = :channel_id AND last_seq = :old_seq RETURNING 1), ",
            "voucher_new AS (INSERT INTO vouchers (id, platform_id, channel_id, seq, ",
            "cumulative_amount, usage_root, signature, received_at) VALUES (:voucher_id, ",
            ":platform_id, :channel_id, :seq, :charged, :usage_root, :signature, :now) ",
            "RETURNING 1), play_new AS (INSERT INTO plays (id, track_id, platform_id, ",
            "voucher_id, model_terms_id, price, epoch, played_at, channel_id, seq, cumulative, ",
            '"timestamp", usage_index) VALUES (:play_id, :track_id, :platform_id, :voucher_id, ',
            ":terms_id, :price, :epoch, :now, :channel_id, :seq, :charged, :ts, :usage_index) ",
            "RETURNING 1)",
            ledger_ctes,
            " SELECT count(*) FROM meter_swap",
        )
    )
    types = _column_types()
    amount = types.pop("amount")
    for i in range(legs):
        types[f"amount{i}"] = amount
    if not legs:
        del types["created"]
    return text(sql).bindparams(*(bindparam(name, type_=t) for name, t in types.items()))


def _write_in_one_statement(db: Session, params: dict[str, Any], tx: Transaction) -> int:
    for i, e in enumerate(tx.entries):
        params[f"account{i}"], params[f"amount{i}"] = e.account, e.amount
    if tx.entries:
        params.update(kind=tx.kind, ref=tx.ref, created=utcnow())
    return int(db.execute(_one_statement(len(tx.entries)), params).scalar_one())


def _stale(seq: int) -> Conflict:
    return Conflict(
        "Another access on this channel took this seq first.",
        code=Reason.STALE_SEQ.value,
        detail={"seq": str(seq)},
    )


def play_proof(
    db: Session, platform: Platform, play_id: uuid.UUID, size: int | None
) -> PlayProofOut:
    """The RFC 6962 inclusion proof of a charged play in the channel's usage log of ``size``
    records (default: the whole log, i.e. the last voucher's usageRoot): the studio can prove
    every play it charged for."""
    play = db.get(PlayRow, play_id)
    if play is None or play.platform_id != platform.id:
        raise NotFound("No such play.", code="play_not_found")
    rows = db.execute(
        select(PlayRow.seq, Track.content_sha256, PlayRow.price, PlayRow.timestamp)
        .join(Track, Track.id == PlayRow.track_id)
        .where(PlayRow.channel_id == play.channel_id)
        .order_by(PlayRow.seq)
    ).all()
    records = [UsageRecord(seq, bytes.fromhex(h), price, ts) for seq, h, price, ts in rows]
    n = len(records) if size is None else size
    if not play.usage_index < n <= len(records):
        raise Unprocessable(
            f"size must be in ({play.usage_index}, {len(records)}]", code="bad_log_size"
        )
    log_ = records[:n]
    record = records[play.usage_index]
    return PlayProofOut(
        play_id=play.id,
        channel_id=play.channel_id,
        index=play.usage_index,
        size=n,
        root="0x" + usage_root(log_).hex(),
        record={
            "seq": record.seq,
            "track_id": "0x" + record.track_id.hex(),
            "price": str(record.price),
            "timestamp": record.timestamp,
        },
        proof=["0x" + p.hex() for p in inclusion_proof(log_, play.usage_index)],
    )
