"""``POST /v1/access``: one play paid by one voucher.

The voucher rules are :func:`royalties.vouchers.accept_voucher`'s; this module gathers the
channel's state (SQL meter + chain), applies the verdict and records the play, the voucher and
its ledger posting in one database transaction.

Concurrency: the channel's meter row is locked (``SELECT ... FOR UPDATE`` where the engine has
it) and then updated with a compare-and-set on ``last_seq``; ``(channel_id, seq)`` is unique in
both vouchers and plays. Two accesses racing on one channel with the same seq cannot both pass:
the second finds the seq taken and is refused as stale."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from eth_abi.abi import decode, encode
from eth_utils.abi import function_abi_to_4byte_selector
from eth_utils.address import to_checksum_address
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from web3.exceptions import Web3Exception
from web3.types import RPCEndpoint

from contracts.eip712 import Voucher as SignedVoucher
from contracts.eip712 import escrow_domain
from royalties.chain import erc1271_checker
from royalties.ledger import post_play
from royalties.usage_log import UsageFrontier, UsageRecord, inclusion_proof, usage_root
from royalties.vouchers import (
    MAX_CLOCK_SKEW_S,
    Accepted,
    ChannelState,
    Play,
    Reason,
    accept_voucher,
)
from studio.db.models import ChannelMeter, ModelTerms, Platform, Track
from studio.db.models import Play as PlayRow
from studio.db.models import Voucher as VoucherRow
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


_CONTRACT_SIGNERS: dict[str, bool] = {}


@dataclass(frozen=True)
class _ChannelCall:
    """``PlayEscrow.getChannel`` as one raw ``eth_call``: the selector and the struct's ABI
    types worked out once. Building a web3 ContractFunction per play costs more (ABI
    validation, dozens of keccaks) than the round trip itself."""

    escrow: str
    selector: bytes
    output: str
    names: tuple[str, ...]


_CHANNEL_CALLS: dict[str, _ChannelCall] = {}


def _channel_call(chain: SettlementChain) -> _ChannelCall:
    escrow = chain.deployment.escrow
    call = _CHANNEL_CALLS.get(escrow)
    if call is None:
        fn = chain.contracts.escrow.functions.getChannel(0)
        components = fn.abi["outputs"][0]["components"]
        output = "(" + ",".join(c["type"] for c in components) + ")"
        selector = bytes(function_abi_to_4byte_selector(fn.abi))
        names = tuple(c["name"] for c in components)
        call = _ChannelCall(escrow, selector, output, names)
        _CHANNEL_CALLS[escrow] = call
    return call


def read_channel(chain: SettlementChain, channel_id: int) -> _OnChain:
    call = _channel_call(chain)
    data = "0x" + (call.selector + encode(["uint256"], [channel_id])).hex()
    try:
        response = chain.w3.provider.make_request(
            RPCEndpoint("eth_call"), [{"to": call.escrow, "data": data}, "latest"]
        )
    except (OSError, Web3Exception) as exc:
        raise ServiceUnavailable("The chain did not answer.", code="chain_unavailable") from exc
    if "error" in response or not isinstance(response.get("result"), str):
        raise ServiceUnavailable("The chain did not answer.", code="chain_unavailable")
    (values,) = decode([call.output], bytes.fromhex(response["result"][2:]))
    c = dict(zip(call.names, values, strict=True))
    signer = to_checksum_address(c["signer"])
    if int(signer, 16) == 0:
        raise NotFound("The channel does not exist on-chain.", code="channel_not_found")
    if signer not in _CONTRACT_SIGNERS:
        _CONTRACT_SIGNERS[signer] = bool(chain.w3.eth.get_code(signer))
    return _OnChain(
        signer=signer,
        balance=int(c["balance"]),
        claimed=int(c["claimed"]),
        withdrawal_pending=int(c["withdrawReadyAt"]) != 0,
        signer_is_contract=_CONTRACT_SIGNERS[signer],
    )


def find_track(db: Session, ref: str) -> Track:
    t: Track | None
    if ref.startswith("0x"):
        t = db.scalars(select(Track).where(Track.onchain_id == ref.lower())).one_or_none()
    else:
        try:
            t = db.get(Track, uuid.UUID(ref))
        except ValueError:
            t = None
    if t is None or t.status not in (PLAYABLE, "retired"):
        raise NotFound("No such track.", code="unknown_track")
    if t.status == "retired":
        raise Gone("This track is retired; it takes no new plays.", code="track_retired")
    return t


def terms_in_force(db: Session, track: Track, epoch: int) -> ModelTerms:
    """The track's voice's active terms version in force in ``epoch`` (what the registry's
    termsAt answers): its price is the play's price."""
    row = db.scalars(
        select(ModelTerms)
        .where(
            ModelTerms.voice_model_id == track.voice_model_id,
            ModelTerms.status == "active",
            ModelTerms.effective_epoch <= epoch,
        )
        .order_by(ModelTerms.version.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        raise Conflict("The track's voice has no terms in force yet.", code="track_not_priced")
    return row


def _meter(db: Session, platform: Platform, channel_id: str) -> ChannelMeter:
    meter = db.scalars(
        select(ChannelMeter).where(ChannelMeter.channel_id == channel_id).with_for_update()
    ).one_or_none()
    if meter is None:
        meter = ChannelMeter(
            channel_id=channel_id,
            platform_id=platform.id,
            last_seq=0,
            charged=0,
            last_timestamp=0,
            usage_size=0,
            usage_peaks=[],
        )
        db.add(meter)
        try:
            db.flush()
        except IntegrityError as exc:  # another first access on this channel won the insert
            db.rollback()
            raise _stale(1) from exc
    return meter


def meter_state(meter: ChannelMeter, on_chain: _OnChain) -> ChannelState:
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
def access(db: Session, services: Services, platform: Platform, body: AccessIn) -> AccessOut:
    """Verifies the voucher for one play of ``body.track_id`` and records it; raises a 4xx
    TimbreError (code = the refusal reason) otherwise, changing nothing."""
    if platform.channel_id is None:
        raise Conflict("Open and link an escrow channel first.", code="channel_not_open")
    chain = require_chain(services)
    track = find_track(db, body.track_id)
    now = services.clock()
    now_s = int(now.timestamp())
    # A timestamp outside the skew is refused by the voucher rules (bad_timestamp); price the
    # play at now's epoch until then, so that the refusal names the right reason.
    in_skew = abs(body.timestamp - now_s) <= MAX_CLOCK_SKEW_S
    epoch = chain.deployment.epoch_at(body.timestamp if in_skew else now_s)
    terms = terms_in_force(db, track, epoch)
    meter = _meter(db, platform, platform.channel_id)
    state = meter_state(meter, read_channel(chain, int(platform.channel_id)))
    v = body.voucher
    voucher = SignedVoucher(
        int(v.channel_id), int(v.cumulative_amount), bytes.fromhex(v.usage_root[2:]), v.seq
    )
    d = chain.deployment
    verdict = accept_voucher(
        state,
        Play(bytes.fromhex(track.content_sha256), terms.price_per_play, body.timestamp),
        voucher,
        bytes.fromhex(body.signature[2:]),
        escrow_domain(d.chain_id, d.escrow),
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
    return _record(db, services, platform, meter, track, terms, verdict, body, epoch, now)


def _record(
    db: Session,
    services: Services,
    platform: Platform,
    meter: ChannelMeter,
    track: Track,
    terms: ModelTerms,
    ok: Accepted,
    body: AccessIn,
    epoch: int,
    now: datetime,
) -> AccessOut:
    new = ok.state
    swapped = db.execute(
        update(ChannelMeter)
        .where(ChannelMeter.channel_id == meter.channel_id, ChannelMeter.last_seq == meter.last_seq)
        .values(
            last_seq=new.last_seq,
            charged=new.charged,
            last_digest="0x" + ok.digest.hex(),
            last_timestamp=new.last_timestamp,
            usage_size=new.usage.size,
            usage_peaks=[p.hex() for p in new.usage.peaks],
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if swapped.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        raise _stale(new.last_seq)
    voucher_row = VoucherRow(
        platform_id=platform.id,
        channel_id=meter.channel_id,
        seq=new.last_seq,
        cumulative_amount=new.charged,
        usage_root="0x" + new.usage.root().hex(),
        signature=body.signature,
        received_at=now,
    )
    db.add(voucher_row)
    db.flush()  # no ORM relationship orders the play after its voucher: insert it first
    play = PlayRow(
        track_id=track.id,
        platform_id=platform.id,
        voucher_id=voucher_row.id,
        model_terms_id=terms.id,
        price=terms.price_per_play,
        epoch=epoch,
        played_at=now,
        channel_id=meter.channel_id,
        seq=new.last_seq,
        cumulative=new.charged,
        timestamp=body.timestamp,
        usage_index=ok.index,
    )
    db.add(play)
    track_hash = bytes.fromhex(track.content_sha256)
    ledger.post(
        db,
        post_play(
            int(meter.channel_id), track_hash, terms.price_per_play, ref=_play_ref(meter, new)
        ),
        known_new=True,  # (channel, seq) was just won by the compare-and-set above
    )
    try:
        db.commit()
    except IntegrityError as exc:
        db.rollback()
        raise _stale(new.last_seq) from exc
    ttl = timedelta(seconds=services.settings.signed_url_ttl_s)
    url = services.store.signed_url(track.content_sha256, expires=ttl)
    return AccessOut(
        play_id=play.id,
        stream_url=url,
        expires_at=now + ttl,
        track_onchain_id="0x" + track.content_sha256,
        price=str(terms.price_per_play),
        channel_id=meter.channel_id,
        seq=new.last_seq,
        cumulative_amount=str(new.charged),
        usage_index=ok.index,
        epoch=epoch,
    )


def _play_ref(meter: ChannelMeter, state: ChannelState) -> str:
    return f"channel {meter.channel_id} seq {state.last_seq}"


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
