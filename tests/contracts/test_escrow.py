"""PlayEscrow: channels, deposits, vouchers redeemed all-or-nothing, timed withdrawal."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import errors
from contracts.eip712 import SECP256K1_N, Voucher, escrow_domain, registry_domain, sign_voucher
from tests.contracts.chain import USD, WITHDRAWAL_DELAY_S, Chain

ZERO = "0x" + "00" * 20


def _rejections(chain: Chain, receipt: Any) -> list[errors.ContractError]:
    return [
        errors.decode_revert(bytes(e["reason"]))
        for e in chain.events(chain.escrow, "VoucherRejected", receipt)
    ]


def test_open_channel_and_deposit(chain: Chain) -> None:
    platform = chain.roles.platform
    receipt = chain.tx(
        chain.escrow.functions.openChannel(chain.deployment.token, platform.address), platform
    )
    (opened,) = chain.events(chain.escrow, "ChannelOpened", receipt)
    channel_id = opened["channelId"]
    assert (channel_id, opened["owner"]) == (1, platform.address)
    chain.deposit(channel_id, 100 * USD)
    # Anyone may top up someone's channel.
    chain.deposit(channel_id, 5 * USD, chain.roles.stranger)
    state = chain.channel(channel_id)
    assert (state["balance"], state["owner"], state["signer"]) == (
        105 * USD,
        platform.address,
        platform.address,
    )
    assert chain.escrow.functions.totalBalance(chain.deployment.token).call() == 105 * USD
    assert chain.balance(chain.deployment.escrow) == 105 * USD
    assert chain.escrow.functions.channelCount().call() == 1


def test_channel_and_deposit_checks(chain: Chain) -> None:
    platform = chain.roles.platform
    escrow = chain.escrow.functions
    with pytest.raises(errors.ZeroAddress):
        chain.tx(escrow.openChannel(chain.deployment.token, ZERO), platform)
    with pytest.raises(errors.TokenNotAllowed):
        chain.tx(escrow.openChannel(chain.roles.stranger.address, platform.address), platform)
    with pytest.raises(errors.UnknownChannel):
        chain.tx(escrow.deposit(9, 1), platform)
    channel_id = chain.open_channel()
    with pytest.raises(errors.ZeroAmount):
        chain.tx(escrow.deposit(channel_id, 0), platform)
    with pytest.raises(errors.ERC20InsufficientAllowance):
        chain.tx(escrow.deposit(channel_id, 1), platform)
    chain.tx(escrow.setTokenAllowed(chain.deployment.token, False), chain.roles.deployer)
    with pytest.raises(errors.TokenNotAllowed):
        chain.tx(escrow.deposit(channel_id, 1), platform)


def test_fee_on_transfer_token_is_rejected(chain: Chain) -> None:
    fee_token = chain.deploy("FeeOnTransferToken")
    platform = chain.roles.platform
    receipt = chain.tx(
        chain.escrow.functions.setTokenAllowed(fee_token.address, True), chain.roles.deployer
    )
    assert chain.events(chain.escrow, "TokenAllowed", receipt)[0]["allowed"] is True
    receipt = chain.tx(
        chain.escrow.functions.openChannel(fee_token.address, platform.address), platform
    )
    channel_id = chain.events(chain.escrow, "ChannelOpened", receipt)[0]["channelId"]
    chain.tx(fee_token.functions.mint(platform.address, 1_000), platform)
    chain.tx(fee_token.functions.approve(chain.deployment.escrow, 1_000), platform)
    with pytest.raises(errors.FeeOnTransferToken) as info:
        chain.tx(chain.escrow.functions.deposit(channel_id, 1_000), platform)
    assert info.value.kwargs == {"token": fee_token.address, "expected": 1_000, "received": 990}


def test_deposit_with_permit_even_when_front_run(chain: Chain) -> None:
    platform = chain.roles.platform
    channel_id = chain.open_channel()
    chain.faucet(platform.address, 20 * USD)
    deadline = chain.now() + 600
    v, r, s = chain.permit(platform, chain.deployment.escrow, 10 * USD, deadline)
    chain.tx(
        chain.escrow.functions.depositWithPermit(channel_id, 10 * USD, deadline, v, r, s), platform
    )
    assert chain.channel(channel_id)["balance"] == 10 * USD
    # Someone submits the permit first: the deposit still goes through (permit failure ignored).
    v, r, s = chain.permit(platform, chain.deployment.escrow, 10 * USD, deadline)
    chain.tx(
        chain.token.functions.permit(
            platform.address, chain.deployment.escrow, 10 * USD, deadline, v, r, s
        ),
        chain.roles.stranger,
    )
    chain.tx(
        chain.escrow.functions.depositWithPermit(channel_id, 10 * USD, deadline, v, r, s), platform
    )
    assert chain.channel(channel_id)["balance"] == 20 * USD
    with pytest.raises(errors.UnknownChannel):
        chain.tx(chain.escrow.functions.depositWithPermit(99, 1, deadline, v, r, s), platform)


def test_claim_many_channels_pays_the_distributor(chain: Chain) -> None:
    other = chain.roles.stranger
    a = chain.open_channel(100 * USD)
    b = chain.open_channel(50 * USD, owner=other)
    receipt = chain.claim_vouchers(
        [chain.voucher(a, 30 * USD, 1), chain.voucher(b, 20 * USD, 7, key=other)]
    )
    redeemed = chain.events(chain.escrow, "VoucherRedeemed", receipt)
    assert [(e["channelId"], e["amount"]) for e in redeemed] == [(a, 30 * USD), (b, 20 * USD)]
    assert chain.balance(chain.deployment.distributor) == 50 * USD
    assert chain.distributor.functions.totalReceived().call() == 50 * USD
    assert chain.channel(a)["balance"] == 70 * USD
    assert (chain.channel(a)["claimed"], chain.channel(a)["last_seq"]) == (30 * USD, 1)
    assert chain.escrow.functions.totalBalance(chain.deployment.token).call() == 100 * USD
    # The next voucher pays only the difference.
    chain.claim_vouchers([chain.voucher(a, 45 * USD, 2)])
    assert chain.channel(a)["claimed"] == 45 * USD
    assert chain.balance(chain.deployment.distributor) == 65 * USD


def test_a_voucher_is_never_paid_twice_nor_above_its_signed_amount(chain: Chain) -> None:
    a = chain.open_channel(100 * USD)
    voucher = chain.voucher(a, 30 * USD, 1)
    chain.claim_vouchers([voucher])
    receipt = chain.claim_vouchers([voucher, voucher])
    assert [type(e) for e in _rejections(chain, receipt)] == [errors.StaleVoucher] * 2
    inflated = (voucher[0], 90 * USD, voucher[2], 2, voucher[4])
    receipt = chain.claim_vouchers([inflated])
    assert [type(e) for e in _rejections(chain, receipt)] == [errors.InvalidVoucherSignature]
    lower = chain.voucher(a, 10 * USD, 5)
    receipt = chain.claim_vouchers([lower])
    (reason,) = _rejections(chain, receipt)
    assert isinstance(reason, errors.CumulativeBelowClaimed)
    assert reason.kwargs["claimed"] == 30 * USD
    assert chain.balance(chain.deployment.distributor) == 30 * USD
    assert chain.channel(a)["balance"] == 70 * USD


def test_redemption_is_all_or_nothing(chain: Chain) -> None:
    a = chain.open_channel(10 * USD)
    voucher = chain.voucher(a, 11 * USD, 1)
    receipt = chain.claim_vouchers([voucher])
    (reason,) = _rejections(chain, receipt)
    assert isinstance(reason, errors.InsufficientBalance)
    assert reason.kwargs == {"channel_id": a, "required": 11 * USD, "available": 10 * USD}
    assert chain.channel(a)["balance"] == 10 * USD  # nothing taken
    chain.deposit(a, 1)  # a dust deposit cannot grief it: the voucher still pays in full
    chain.deposit(a, USD)
    chain.claim_vouchers([voucher])
    assert chain.channel(a)["balance"] == 1
    assert chain.balance(chain.deployment.distributor) == 11 * USD


def test_bad_vouchers_do_not_block_good_ones(chain: Chain) -> None:
    a = chain.open_channel(10 * USD)
    other_token = chain.deploy("TestUSD")
    chain.tx(
        chain.escrow.functions.setTokenAllowed(other_token.address, True), chain.roles.deployer
    )
    receipt = chain.tx(
        chain.escrow.functions.openChannel(other_token.address, chain.roles.platform.address),
        chain.roles.platform,
    )
    b = chain.events(chain.escrow, "ChannelOpened", receipt)[0]["channelId"]
    receipt = chain.claim_vouchers(
        [chain.voucher(99, USD, 1), chain.voucher(b, USD, 1), chain.voucher(a, USD, 1)]
    )
    assert [type(e) for e in _rejections(chain, receipt)] == [
        errors.UnknownChannel,
        errors.TokenMismatch,
    ]
    assert chain.balance(chain.deployment.distributor) == USD


def test_voucher_signatures_do_not_replay(chain: Chain) -> None:
    a = chain.open_channel(10 * USD)
    key = bytes(chain.roles.platform.key)
    voucher = Voucher(a, USD, b"\x42" * 32, 1)
    domains = [
        escrow_domain(chain.deployment.chain_id + 1, chain.deployment.escrow),
        escrow_domain(chain.deployment.chain_id, chain.deployment.registry),
        registry_domain(chain.deployment.chain_id, chain.deployment.escrow),
    ]
    signatures = [sign_voucher(key, d, voucher) for d in domains]
    good = sign_voucher(key, chain.escrow_domain, voucher)
    s = int.from_bytes(good[32:64], "big")
    high_s = good[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - good[64]])
    stranger = sign_voucher(bytes(chain.roles.stranger.key), chain.escrow_domain, voucher)
    receipt = chain.claim_vouchers(
        [voucher.as_tuple(sig) for sig in [*signatures, high_s, stranger]]
    )
    assert [type(e) for e in _rejections(chain, receipt)] == [errors.InvalidVoucherSignature] * 5
    assert chain.channel(a)["claimed"] == 0


def test_claim_batch_bounds_and_role(chain: Chain) -> None:
    a = chain.open_channel(10 * USD)
    with pytest.raises(errors.EmptyBatch):
        chain.claim_vouchers([])
    limit = chain.escrow.functions.MAX_CLAIM_BATCH().call()
    with pytest.raises(errors.BatchTooLarge):
        chain.claim_vouchers([chain.voucher(a, 1, 1)] * (limit + 1))
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        chain.tx(chain.escrow.functions.claim([chain.voucher(a, 1, 1)]), chain.roles.platform)


def test_timed_withdrawal_keeps_signed_liability(chain: Chain) -> None:
    platform = chain.roles.platform
    escrow = chain.escrow.functions
    a = chain.open_channel(100 * USD)
    with pytest.raises(errors.NoWithdrawalPending):
        chain.tx(escrow.executeWithdrawal(a), platform)
    with pytest.raises(errors.NoWithdrawalPending):
        chain.tx(escrow.cancelWithdrawal(a), platform)
    with pytest.raises(errors.NotChannelOwner):
        chain.tx(escrow.requestWithdrawal(a, USD), chain.roles.stranger)
    with pytest.raises(errors.UnknownChannel):
        chain.tx(escrow.requestWithdrawal(77, USD), platform)
    with pytest.raises(errors.ZeroAmount):
        chain.tx(escrow.requestWithdrawal(a, 0), platform)
    with pytest.raises(errors.InsufficientBalance):
        chain.tx(escrow.requestWithdrawal(a, 101 * USD), platform)
    receipt = chain.tx(escrow.requestWithdrawal(a, 100 * USD), platform)
    ready_at = chain.events(chain.escrow, "WithdrawalRequested", receipt)[0]["readyAt"]
    assert ready_at == chain.now() + WITHDRAWAL_DELAY_S
    with pytest.raises(errors.WithdrawalNotReady):
        chain.tx(escrow.executeWithdrawal(a), platform)
    # Signed liability is still redeemable during the delay, and comes first.
    chain.claim_vouchers([chain.voucher(a, 40 * USD, 1)])
    chain.warp(WITHDRAWAL_DELAY_S)
    with pytest.raises(errors.NotChannelOwner):
        chain.tx(escrow.executeWithdrawal(a), chain.roles.stranger)
    before = chain.balance(platform.address)
    receipt = chain.tx(escrow.executeWithdrawal(a), platform)
    assert chain.events(chain.escrow, "WithdrawalExecuted", receipt)[0]["amount"] == 60 * USD
    assert chain.balance(platform.address) - before == 60 * USD
    assert chain.channel(a)["balance"] == 0
    assert chain.escrow.functions.totalBalance(chain.deployment.token).call() == 0


def test_cancel_withdrawal(chain: Chain) -> None:
    platform = chain.roles.platform
    a = chain.open_channel(10 * USD)
    chain.tx(chain.escrow.functions.requestWithdrawal(a, USD), platform)
    receipt = chain.tx(chain.escrow.functions.cancelWithdrawal(a), platform)
    assert chain.events(chain.escrow, "WithdrawalCancelled", receipt)[0]["channelId"] == a
    chain.warp(WITHDRAWAL_DELAY_S)
    with pytest.raises(errors.NoWithdrawalPending):
        chain.tx(chain.escrow.functions.executeWithdrawal(a), platform)


def test_recover_takes_only_the_surplus(chain: Chain) -> None:
    admin = chain.roles.deployer
    escrow = chain.escrow.functions
    chain.open_channel(10 * USD)
    chain.faucet(chain.deployment.escrow, 3 * USD)  # sent by mistake
    with pytest.raises(errors.ExceedsSurplus):
        chain.tx(escrow.recover(chain.deployment.token, admin.address, 3 * USD + 1), admin)
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        chain.tx(escrow.recover(chain.deployment.token, admin.address, 1), chain.roles.stranger)
    with pytest.raises(errors.ZeroAddress):
        chain.tx(escrow.recover(chain.deployment.token, ZERO, 1), admin)
    receipt = chain.tx(escrow.recover(chain.deployment.token, admin.address, 3 * USD), admin)
    assert chain.events(chain.escrow, "Recovered", receipt)[0]["amount"] == 3 * USD
    assert chain.balance(chain.deployment.escrow) == 10 * USD
    with pytest.raises(errors.ZeroAddress):
        chain.tx(escrow.setTokenAllowed(ZERO, True), admin)
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        chain.tx(escrow.setTokenAllowed(admin.address, True), chain.roles.stranger)


def test_constructor_checks(chain: Chain) -> None:
    a = chain.roles.deployer.address
    with pytest.raises(errors.ZeroAddress):
        chain.deploy("PlayEscrow", ZERO, a, chain.deployment.distributor, 60)
