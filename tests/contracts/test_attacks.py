"""Hostile tokens and wallets: they cannot re-enter, steal, or block other channels."""

from __future__ import annotations

from typing import Any

import pytest
from web3.contract import Contract

from contracts import errors
from contracts.artifacts import bind
from contracts.deploy import deploy_all
from contracts.eip712 import Voucher, escrow_domain, sign_voucher
from contracts.merkle import PayoutTree
from tests.contracts.chain import (
    CHALLENGE_WINDOW_S,
    EPOCH_LENGTH_S,
    USD,
    WITHDRAWAL_DELAY_S,
    Chain,
    fresh_key,
)

HONEST, ALWAYS_VALID, ALWAYS_INVALID, REENTER, BURN_GAS = range(5)


def _reentrant_set(chain: Chain) -> tuple[Contract, Contract, Contract]:
    """token, escrow, distributor where the payout token re-enters on transfer."""
    token = chain.deploy("ReentrantToken")
    r = chain.roles
    d = deploy_all(
        chain.w3,
        r.deployer.address,
        settlement=r.settlement.address,
        guardian=r.guardian.address,
        treasury=r.treasury.address,
        dust=r.dust.address,
        epoch_length_s=EPOCH_LENGTH_S,
        challenge_window_s=CHALLENGE_WINDOW_S,
        withdrawal_delay_s=WITHDRAWAL_DELAY_S,
        dev_token=False,
        token=token.address,
    )
    return (
        token,
        bind(chain.w3, "PlayEscrow", d.escrow),
        bind(chain.w3, "RoyaltyDistributor", d.distributor),
    )


def _reentry_error(token: Contract) -> errors.ContractError:
    assert token.functions.attempted().call()
    assert not token.functions.reentrySucceeded().call()
    return errors.decode_revert(bytes(token.functions.reentryResult().call()))


def test_reentrant_token_cannot_reenter_the_distributor(chain: Chain) -> None:
    token, _, dist = _reentrant_set(chain)
    admin = chain.roles.deployer
    payee = fresh_key(5).address
    chain.tx(token.functions.mint(admin.address, 100 * USD), admin)
    chain.tx(token.functions.approve(dist.address, 100 * USD), admin)
    chain.tx(dist.functions.fund(100 * USD), admin)
    tree = PayoutTree([(payee, 10 * USD), (fresh_key(6).address, 5 * USD)])
    chain.warp(EPOCH_LENGTH_S)
    chain.tx(
        dist.functions.proposeRoot(chain.epoch() - 1, tree.root, 15 * USD, b"\x01" * 32),
        chain.roles.settlement,
    )
    chain.warp(CHALLENGE_WINDOW_S)
    proof = tree.proof(payee)
    again = dist.encode_abi("claimFor", args=[payee, 10 * USD, proof])
    chain.tx(token.functions.arm(dist.address, again), admin)
    chain.tx(dist.functions.claimFor(payee, 10 * USD, proof), chain.roles.stranger)
    assert isinstance(_reentry_error(token), errors.ReentrancyGuardReentrantCall)
    assert token.functions.balanceOf(payee).call() == 10 * USD  # paid exactly once
    assert dist.functions.totalClaimed().call() == 10 * USD


def test_reentrant_token_cannot_reenter_the_escrow(chain: Chain) -> None:
    token, escrow, _ = _reentrant_set(chain)
    platform = chain.roles.platform
    receipt = chain.tx(escrow.functions.openChannel(token.address, platform.address), platform)
    channel_id = chain.events(escrow, "ChannelOpened", receipt)[0]["channelId"]
    chain.tx(token.functions.mint(platform.address, 100 * USD), platform)
    chain.tx(token.functions.approve(escrow.address, 100 * USD), platform)
    # Re-entering deposit from inside deposit's transferFrom.
    chain.tx(
        token.functions.arm(escrow.address, escrow.encode_abi("deposit", args=[channel_id, USD])),
        platform,
    )
    chain.tx(escrow.functions.deposit(channel_id, 10 * USD), platform)
    assert isinstance(_reentry_error(token), errors.ReentrancyGuardReentrantCall)
    assert escrow.functions.getChannel(channel_id).call()[3] == 10 * USD
    # Re-entering executeWithdrawal from inside executeWithdrawal's transfer.
    chain.tx(escrow.functions.requestWithdrawal(channel_id, 4 * USD), platform)
    chain.warp(WITHDRAWAL_DELAY_S)
    reenter = escrow.encode_abi("executeWithdrawal", args=[channel_id])
    chain.tx(token.functions.arm(escrow.address, reenter), platform)
    chain.tx(escrow.functions.executeWithdrawal(channel_id), platform)
    assert isinstance(_reentry_error(token), errors.ReentrancyGuardReentrantCall)
    assert escrow.functions.getChannel(channel_id).call()[3] == 6 * USD
    assert token.functions.balanceOf(escrow.address).call() == 6 * USD
    # Re-entering claim from inside claim's transfer to the distributor.
    voucher = Voucher(channel_id, 2 * USD, b"\x00" * 32, 1)
    domain = escrow_domain(chain.deployment.chain_id, escrow.address)
    signed = voucher.as_tuple(sign_voucher(bytes(platform.key), domain, voucher))
    chain.tx(
        token.functions.arm(escrow.address, escrow.encode_abi("claim", args=[[signed]])), platform
    )
    chain.tx(escrow.functions.claim([signed]), chain.roles.settlement)
    assert isinstance(
        _reentry_error(token),
        errors.AccessControlUnauthorizedAccount | errors.ReentrancyGuardReentrantCall,
    )
    assert escrow.functions.getChannel(channel_id).call()[4] == 2 * USD  # claimed once


def _wallet_channel(chain: Chain, mode: int, deposit: int) -> tuple[Contract, int]:
    wallet = chain.deploy("MaliciousWallet", chain.roles.stranger.address)
    chain.tx(wallet.functions.setMode(mode), chain.roles.stranger)
    channel_id = chain.open_channel(deposit, owner=chain.roles.stranger, signer=wallet.address)
    return wallet, channel_id


def _rejected(chain: Chain, receipt: Any) -> list[type[errors.ContractError]]:
    return [
        type(errors.decode_revert(bytes(e["reason"])))
        for e in chain.events(chain.escrow, "VoucherRejected", receipt)
    ]


def test_lying_erc1271_signer_cannot_take_other_channels_money(chain: Chain) -> None:
    victim = chain.open_channel(50 * USD)
    _, own = _wallet_channel(chain, ALWAYS_VALID, 5 * USD)
    # The liar "signs" anything, but only its own channel trusts it.
    forged = Voucher(victim, 50 * USD, b"\x00" * 32, 1).as_tuple(b"\x00" * 65)
    own_voucher = Voucher(own, 5 * USD, b"\x00" * 32, 1).as_tuple(b"")
    too_much = Voucher(own, 6 * USD, b"\x00" * 32, 2).as_tuple(b"")
    receipt = chain.claim_vouchers([forged, own_voucher, too_much])
    assert _rejected(chain, receipt) == [
        errors.InvalidVoucherSignature,
        errors.InsufficientBalance,
    ]
    assert chain.channel(victim)["balance"] == 50 * USD
    assert chain.balance(chain.deployment.distributor) == 5 * USD  # its own deposit, once


@pytest.mark.parametrize("mode", [ALWAYS_INVALID, REENTER, BURN_GAS])
def test_hostile_erc1271_signer_cannot_block_the_batch(chain: Chain, mode: int) -> None:
    good = chain.open_channel(10 * USD)
    wallet, bad = _wallet_channel(chain, mode, 10 * USD)
    chain.tx(
        wallet.functions.setReentry(
            chain.deployment.escrow,
            chain.escrow.encode_abi("claim", args=[[chain.voucher(good, 10 * USD, 9)]]),
        ),
        chain.roles.stranger,
    )
    bad_voucher = Voucher(bad, 10 * USD, b"\x00" * 32, 1).as_tuple(b"\x01" * 65)
    receipt = chain.claim_vouchers([bad_voucher, chain.voucher(good, 3 * USD, 1)])
    assert _rejected(chain, receipt) == [errors.InvalidVoucherSignature]
    assert chain.channel(good)["claimed"] == 3 * USD
    assert chain.channel(bad)["balance"] == 10 * USD
    assert chain.balance(chain.deployment.distributor) == 3 * USD


def test_honest_erc1271_signer_is_accepted(chain: Chain) -> None:
    wallet, channel_id = _wallet_channel(chain, HONEST, 10 * USD)
    voucher = Voucher(channel_id, 4 * USD, b"\x00" * 32, 1)
    signature = sign_voucher(bytes(chain.roles.stranger.key), chain.escrow_domain, voucher)
    receipt = chain.claim_vouchers([voucher.as_tuple(signature)])
    assert _rejected(chain, receipt) == []
    assert chain.channel(channel_id)["claimed"] == 4 * USD
    assert wallet.address == chain.channel(channel_id)["signer"]


def test_lying_erc1271_wallet_cannot_change_another_creators_terms(chain: Chain) -> None:
    model_id = chain.register_model(chain.terms(approval_required=True))
    liar = chain.deploy("MaliciousWallet", chain.roles.stranger.address)
    chain.tx(liar.functions.setMode(ALWAYS_VALID), chain.roles.stranger)
    # Terms naming the real creator need the real creator's signature, whatever the liar says.
    hijack = chain.terms(payout=liar.address)
    with pytest.raises(errors.InvalidSignature):
        chain.tx(
            chain.registry.functions.updateTerms(hijack.as_tuple(), b"\x00" * 65, b""),
            chain.roles.stranger,
        )
    # Approvals are checked against the model's creator, not against the caller's wallet.
    song = b"\x61" * 32
    with pytest.raises(errors.InvalidSignature):
        chain.tx(
            chain.registry.functions.registerTrack(
                model_id, song, chain.roles.stranger.address, chain.now() + 60, b"\x00" * 65
            ),
            chain.roles.stranger,
        )
    assert chain.registry.functions.termsVersionCount(model_id).call() == 1
    assert (
        bytes(chain.registry.functions.modelIdOf(hijack.creator, hijack.artifact_hash).call())
        == model_id
    )


def test_amounts_beyond_uint96_are_refused_not_truncated(chain: Chain) -> None:
    token, escrow, _ = _reentrant_set(chain)  # unarmed: a plain mintable token here
    platform = chain.roles.platform
    receipt = chain.tx(escrow.functions.openChannel(token.address, platform.address), platform)
    channel_id = chain.events(escrow, "ChannelOpened", receipt)[0]["channelId"]
    cap = 2**96 - 1
    chain.tx(token.functions.mint(platform.address, 2 * cap + 2), platform)
    chain.tx(token.functions.approve(escrow.address, 2 * cap + 2), platform)
    chain.tx(escrow.functions.deposit(channel_id, cap), platform)
    with pytest.raises(errors.SafeCastOverflowedUintDowncast):
        chain.tx(escrow.functions.deposit(channel_id, 1), platform)
    domain = escrow_domain(chain.deployment.chain_id, escrow.address)

    def signed(cumulative: int, seq: int) -> tuple[int, int, bytes, int, bytes]:
        v = Voucher(channel_id, cumulative, b"\x00" * 32, seq)
        return v.as_tuple(sign_voucher(bytes(platform.key), domain, v))

    chain.tx(escrow.functions.claim([signed(cap, 1)]), chain.roles.settlement)
    chain.tx(escrow.functions.deposit(channel_id, 1), platform)
    receipt = chain.tx(escrow.functions.claim([signed(cap + 1, 2)]), chain.roles.settlement)
    (event,) = chain.events(escrow, "VoucherRejected", receipt)
    reason = errors.decode_revert(bytes(event["reason"]))
    assert isinstance(reason, errors.SafeCastOverflowedUintDowncast)
    assert reason.kwargs == {"bits": 96, "value": cap + 1}
    assert escrow.functions.getChannel(channel_id).call()[3] == 1  # balance untouched
