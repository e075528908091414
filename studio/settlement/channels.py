"""Platform channels in ``PlayEscrow``: what to sign and send to open and fund one, linking it
to the platform, the dev faucet, and the channel's balance against its unredeemed vouchers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.transact import transact
from royalties.chain import channel_state
from royalties.usage_log import UsageFrontier
from studio.db.models import ChannelMeter, Platform
from studio.errors import BadRequest, Conflict, Forbidden, NotFound
from studio.settlement.chain import SettlementChain, answers_503
from studio.settlement.schemas import ChannelOut, ChannelSetupOut, FaucetOut, TxStep

MAX_FAUCET = 1_000_000 * 10**6  # TestUSD's own cap per call is the binding one


def _data(fn: object) -> str:
    return str(fn._encode_transaction_data())  # type: ignore[attr-defined]


@answers_503
def setup_steps(chain: SettlementChain, platform: Platform, amount: int) -> ChannelSetupOut:
    """The transactions the platform's wallet signs: open a channel (voucher signer = the
    wallet) if it has none, then approve and deposit ``amount`` base units."""
    d, c = chain.deployment, chain.contracts
    steps: list[TxStep] = []
    if platform.channel_id is None:
        steps.append(
            TxStep(
                description="Open an escrow channel paying in the token, vouchers signed by "
                "this wallet; then POST its id (ChannelOpened) to /v1/channels/link",
                to=d.escrow,
                data=_data(c.escrow.functions.openChannel(d.token, platform.wallet_address)),
            )
        )
    elif amount > 0:
        steps.append(
            TxStep(
                description=f"Allow the escrow to take {amount} base units",
                to=d.token,
                data=_data(c.token.functions.approve(d.escrow, amount)),
            )
        )
        steps.append(
            TxStep(
                description=f"Deposit {amount} base units into channel {platform.channel_id}",
                to=d.escrow,
                data=_data(c.escrow.functions.deposit(int(platform.channel_id), amount)),
            )
        )
    return ChannelSetupOut(
        chain_id=d.chain_id,
        escrow=d.escrow,
        token=d.token,
        channel_id=platform.channel_id,
        faucet_available=d.dev_token,
        steps=steps,
    )


@answers_503
def link(db: Session, chain: SettlementChain, platform: Platform, channel_id: int) -> None:
    """Binds an on-chain channel owned by the platform's wallet to the platform."""
    c = channel_state(chain.contracts.escrow, channel_id)
    if int(str(c["signer"]), 16) == 0:
        raise NotFound("No such channel on-chain.", code="channel_not_found")
    if str(c["owner"]).lower() != platform.wallet_address.lower():
        raise Forbidden("The channel is not owned by the platform's wallet.", code="not_owner")
    if platform.channel_id is not None and platform.channel_id != str(channel_id):
        raise Conflict(
            "The platform already has a channel.",
            code="channel_exists",
            detail={"channel_id": platform.channel_id},
        )
    taken = db.scalars(
        select(Platform).where(Platform.channel_id == str(channel_id), Platform.id != platform.id)
    ).first()
    if taken is not None:
        raise Conflict("The channel is linked to another platform.", code="channel_taken")
    platform.channel_id = str(channel_id)


@answers_503
def faucet(chain: SettlementChain, platform: Platform, amount: int) -> FaucetOut:
    """Mints TestUSD to the platform's wallet (dev chains only)."""
    if not chain.deployment.dev_token:
        raise Forbidden("The faucet exists only on dev chains.", code="no_faucet")
    if not 0 < amount <= MAX_FAUCET:
        raise BadRequest(f"Ask for 1 to {MAX_FAUCET} base units.", code="bad_amount")
    receipt = transact(
        chain.w3,
        chain.contracts.token.functions.faucet(platform.wallet_address, amount),
        chain.require_sender(),
    )
    return FaucetOut(
        to=platform.wallet_address,
        amount=str(amount),
        tx_hash=receipt["transactionHash"].to_0x_hex(),
    )


@answers_503
def view(db: Session, chain: SettlementChain, platform: Platform) -> ChannelOut:
    """Balance, redeemed and charged amounts, and the liability still to be redeemed."""
    if platform.channel_id is None:
        raise NotFound("The platform has no channel yet.", code="channel_not_open")
    c = channel_state(chain.contracts.escrow, int(platform.channel_id))
    meter = db.get(ChannelMeter, platform.channel_id)
    charged = meter.charged if meter else 0
    claimed = int(c["claimed"])
    liability = max(charged - claimed, 0)
    usage = UsageFrontier(
        meter.usage_size if meter else 0,
        tuple(bytes.fromhex(p) for p in meter.usage_peaks) if meter else (),
    )
    return ChannelOut(
        channel_id=platform.channel_id,
        platform_id=platform.id,
        signer=str(c["signer"]),
        balance=str(int(c["balance"])),
        claimed_onchain=str(claimed),
        charged=str(charged),
        pending_liability=str(liability),
        available=str(int(c["balance"]) - liability),
        last_seq=meter.last_seq if meter else 0,
        usage_size=usage.size,
        usage_root="0x" + usage.root().hex(),
        withdrawal_pending=int(c["withdrawReadyAt"]) != 0,
        withdraw_amount=str(int(c["withdrawAmount"])),
        withdraw_ready_at=int(c["withdrawReadyAt"]),
    )


@answers_503
def withdrawal_steps(chain: SettlementChain, platform: Platform, amount: int) -> list[TxStep]:
    """The timed exit: request a withdrawal of ``amount`` base units (streaming stops at once:
    new vouchers are refused while it is pending), cancel it, or execute it once ready."""
    if platform.channel_id is None:
        raise NotFound("The platform has no channel yet.", code="channel_not_open")
    d, escrow = chain.deployment, chain.contracts.escrow.functions
    channel_id = int(platform.channel_id)
    steps = [
        TxStep(
            description="Cancel a pending withdrawal (streaming resumes)",
            to=d.escrow,
            data=_data(escrow.cancelWithdrawal(channel_id)),
        ),
        TxStep(
            description="Execute the withdrawal once its delay has passed",
            to=d.escrow,
            data=_data(escrow.executeWithdrawal(channel_id)),
        ),
    ]
    if amount > 0:
        steps.insert(
            0,
            TxStep(
                description=f"Request a withdrawal of {amount} base units; it is ready after "
                f"{d.withdrawal_delay_s} s, unredeemed vouchers are paid first",
                to=d.escrow,
                data=_data(escrow.requestWithdrawal(channel_id, amount)),
            ),
        )
    return steps
