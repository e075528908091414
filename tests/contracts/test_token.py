"""TestUSD: six decimals, a bounded faucet, EIP-2612 permit; and the OpenZeppelin pieces the
Timbre contracts inherit (roles, nonces, EIP-5267 domain)."""

from __future__ import annotations

import pytest

from contracts import errors
from tests.contracts.chain import USD, Chain

ZERO = "0x" + "00" * 20


def test_token_basics_and_faucet(chain: Chain) -> None:
    token = chain.token.functions
    assert token.decimals().call() == 6
    assert (token.name().call(), token.symbol().call()) == ("Timbre Test USD", "TUSD")
    limit = token.MAX_FAUCET().call()
    assert limit == 1_000_000 * USD
    with pytest.raises(errors.FaucetLimitExceeded):
        chain.tx(token.faucet(chain.roles.fan.address, limit + 1), chain.roles.fan)
    chain.tx(token.faucet(chain.roles.fan.address, limit), chain.roles.fan)
    assert token.totalSupply().call() == limit
    with pytest.raises(errors.ERC20InsufficientBalance):
        chain.tx(token.transfer(chain.roles.creator.address, limit + 1), chain.roles.fan)
    with pytest.raises(errors.ERC20InvalidReceiver):
        chain.tx(token.transfer(ZERO, 1), chain.roles.fan)
    with pytest.raises(errors.ERC20InvalidSpender):
        chain.tx(token.approve(ZERO, 1), chain.roles.fan)
    chain.tx(token.approve(chain.roles.creator.address, 5), chain.roles.fan)
    assert token.allowance(chain.roles.fan.address, chain.roles.creator.address).call() == 5
    chain.tx(
        token.transferFrom(chain.roles.fan.address, chain.roles.creator.address, 5),
        chain.roles.creator,
    )
    assert token.balanceOf(chain.roles.creator.address).call() == 5


def test_permit_rules(chain: Chain) -> None:
    token = chain.token.functions
    owner, spender = chain.roles.fan, chain.roles.creator.address
    deadline = chain.now() + 600
    v, r, s = chain.permit(owner, spender, 7, deadline, nonce=0)
    with pytest.raises(errors.ERC2612InvalidSigner):
        chain.tx(token.permit(owner.address, spender, 8, deadline, v, r, s), owner)
    chain.tx(token.permit(owner.address, spender, 7, deadline, v, r, s), owner)
    assert token.nonces(owner.address).call() == 1
    assert token.allowance(owner.address, spender).call() == 7
    assert token.DOMAIN_SEPARATOR().call() is not None
    expired = chain.now() - 1
    v, r, s = chain.permit(owner, spender, 7, expired, nonce=1)
    with pytest.raises(errors.ERC2612ExpiredSignature):
        chain.tx(token.permit(owner.address, spender, 7, expired, v, r, s), owner)
    high_s = (2**256 - 1).to_bytes(32, "big")
    with pytest.raises(errors.ECDSAInvalidSignatureS):
        chain.tx(token.permit(owner.address, spender, 7, deadline, v, r, high_s), owner)
    with pytest.raises(errors.ECDSAInvalidSignature):
        chain.tx(
            token.permit(owner.address, spender, 7, deadline, 27, b"\x00" * 32, b"\x01" * 32), owner
        )


def test_roles_and_eip5267_domains(chain: Chain) -> None:
    admin, stranger = chain.roles.deployer, chain.roles.stranger
    registry = chain.registry.functions
    role = registry.REGISTRAR_ROLE().call()
    assert registry.getRoleAdmin(role).call() == b"\x00" * 32
    assert registry.supportsInterface(bytes.fromhex("7965db0b")).call()  # IAccessControl
    chain.tx(registry.grantRole(role, stranger.address), admin)
    assert registry.hasRole(role, stranger.address).call()
    chain.tx(registry.revokeRole(role, stranger.address), admin)
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        chain.tx(registry.grantRole(role, stranger.address), stranger)
    chain.tx(registry.grantRole(role, stranger.address), admin)
    with pytest.raises(errors.AccessControlBadConfirmation):
        chain.tx(registry.renounceRole(role, admin.address), stranger)
    chain.tx(registry.renounceRole(role, stranger.address), stranger)
    assert not registry.hasRole(role, stranger.address).call()
    for contract, name in (
        (chain.registry, "Timbre VoiceRegistry"),
        (chain.escrow, "Timbre PlayEscrow"),
        (chain.token, "Timbre Test USD"),
    ):
        fields = contract.functions.eip712Domain().call()
        assert (fields[1], fields[2], fields[3], fields[4]) == (
            name,
            "1",
            chain.deployment.chain_id,
            contract.address,
        )
    # Immutable configuration reads.
    assert chain.registry.functions.EPOCH_LENGTH().call() == chain.deployment.epoch_length_s
    assert chain.registry.functions.EPOCH_GENESIS().call() == chain.deployment.epoch_genesis
    assert chain.registry.functions.BPS().call() == 10_000
    assert chain.escrow.functions.WITHDRAWAL_DELAY().call() == chain.deployment.withdrawal_delay_s
    assert chain.escrow.functions.PAYOUT_TOKEN().call() == chain.deployment.token
    assert chain.escrow.functions.DISTRIBUTOR().call() == chain.deployment.distributor
    dist = chain.distributor.functions
    assert dist.CHALLENGE_WINDOW().call() == chain.deployment.challenge_window_s
    assert dist.TOKEN().call() == chain.deployment.token
    assert dist.nextEpoch().call() == 0
    assert dist.MAX_PROOF_LENGTH().call() == 64
