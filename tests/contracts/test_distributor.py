"""RoyaltyDistributor: funding, roots with a challenge window and veto, cumulative claims."""

from __future__ import annotations

import pytest

from contracts import errors
from contracts.merkle import PayoutTree
from tests.contracts.chain import CHALLENGE_WINDOW_S, EPOCH_LENGTH_S, USD, Chain, fresh_key

ZERO = "0x" + "00" * 20
REPORT = b"\x07" * 32


def _fund(chain: Chain, amount: int) -> None:
    admin = chain.roles.deployer
    chain.faucet(admin.address, amount)
    chain.tx(chain.token.functions.approve(chain.deployment.distributor, amount), admin)
    chain.tx(chain.distributor.functions.fund(amount), admin)


def _settled(chain: Chain, tree: PayoutTree, total: int, epoch: int | None = None) -> int:
    """Proposes ``tree`` for the last ended epoch and waits out the challenge window."""
    chain.warp(EPOCH_LENGTH_S)
    epoch = chain.epoch() - 1 if epoch is None else epoch
    chain.propose(epoch, tree.root, total)
    chain.warp(CHALLENGE_WINDOW_S)
    return epoch


def test_fund_and_notify(chain: Chain) -> None:
    _fund(chain, 10 * USD)
    dist = chain.distributor.functions
    assert dist.totalReceived().call() == 10 * USD
    with pytest.raises(errors.ZeroAmount):
        chain.tx(dist.fund(0), chain.roles.deployer)
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        chain.tx(dist.notifyReceived(1), chain.roles.stranger)
    funder = chain.roles.deployer
    role = dist.FUNDER_ROLE().call()
    chain.tx(dist.grantRole(role, funder.address), funder)
    with pytest.raises(errors.UnbackedFunding) as info:
        chain.tx(dist.notifyReceived(1), funder)
    assert info.value.kwargs == {"amount": 1, "unaccounted": 0}
    chain.faucet(chain.deployment.distributor, 5)
    receipt = chain.tx(dist.notifyReceived(5), funder)
    assert chain.events(chain.distributor, "Funded", receipt)[0]["amount"] == 5


def test_fee_on_transfer_funding_is_rejected(chain: Chain) -> None:
    fee_token = chain.deploy("FeeOnTransferToken")
    r = chain.roles
    dist = chain.deploy(
        "RoyaltyDistributor",
        r.deployer.address,
        r.settlement.address,
        r.guardian.address,
        fee_token.address,
        60,
        0,
        60,
    )
    chain.tx(fee_token.functions.mint(r.deployer.address, 1_000), r.deployer)
    chain.tx(fee_token.functions.approve(dist.address, 1_000), r.deployer)
    with pytest.raises(errors.FundingMismatch):
        chain.tx(dist.functions.fund(1_000), r.deployer)


def test_root_lifecycle_and_cumulative_claims(chain: Chain) -> None:
    fan, creator = chain.roles.fan, chain.roles.creator
    _fund(chain, 100 * USD)
    first = PayoutTree([(fan.address, 30 * USD), (creator.address, 20 * USD)])
    dist = chain.distributor.functions
    chain.warp(EPOCH_LENGTH_S)
    epoch = chain.epoch() - 1
    receipt = chain.tx(
        dist.proposeRoot(epoch, first.root, 50 * USD, REPORT), chain.roles.settlement
    )
    proposed = chain.events(chain.distributor, "RootProposed", receipt)[0]
    assert proposed["readyAt"] == chain.now() + CHALLENGE_WINDOW_S
    assert bytes(dist.pendingRoot().call()[0]) == first.root
    with pytest.raises(errors.NoActiveRoot):
        chain.tx(dist.claim(fan.address, 30 * USD, first.proof(fan.address)), fan)
    chain.warp(CHALLENGE_WINDOW_S)
    assert bytes(dist.activeRoot().call()[0]) == first.root
    assert bytes(dist.pendingRoot().call()[0]) == b"\x00" * 32
    receipt = chain.tx(dist.claim(fan.address, 30 * USD, first.proof(fan.address)), fan)
    assert chain.events(chain.distributor, "RootActivated", receipt)[0]["epoch"] == epoch
    claimed = chain.events(chain.distributor, "Claimed", receipt)[0]
    assert (claimed["amount"], claimed["cumulativeAmount"]) == (30 * USD, 30 * USD)
    assert chain.balance(fan.address) == 30 * USD
    with pytest.raises(errors.NothingToClaim):
        chain.tx(dist.claim(fan.address, 30 * USD, first.proof(fan.address)), fan)
    # Next epoch: cumulative leaves grow; payees get the difference.
    second = PayoutTree([(fan.address, 45 * USD), (creator.address, 35 * USD)])
    _settled(chain, second, 30 * USD)
    chain.tx(dist.claimFor(fan.address, 45 * USD, second.proof(fan.address)), chain.roles.stranger)
    chain.tx(dist.claim(creator.address, 35 * USD, second.proof(creator.address)), creator)
    assert chain.balance(fan.address) == 45 * USD
    assert chain.balance(creator.address) == 35 * USD
    assert dist.claimed(fan.address).call() == 45 * USD
    assert dist.totalClaimed().call() == 80 * USD
    assert dist.totalAllocated().call() == 80 * USD


def test_claim_checks(chain: Chain) -> None:
    fan = chain.roles.fan
    _fund(chain, 10 * USD)
    tree = PayoutTree([(fan.address, 6 * USD), (fresh_key(1).address, 4 * USD)])
    _settled(chain, tree, 10 * USD)
    dist = chain.distributor.functions
    proof = tree.proof(fan.address)
    with pytest.raises(errors.NotAccount):
        chain.tx(dist.claim(fan.address, 6 * USD, proof), chain.roles.stranger)
    with pytest.raises(errors.InvalidProof):
        chain.tx(dist.claimFor(fan.address, 7 * USD, proof), fan)
    with pytest.raises(errors.ProofTooLong):
        chain.tx(dist.claimFor(fan.address, 6 * USD, [b"\x01" * 32] * 65), fan)


def test_faulty_root_cannot_pay_beyond_its_totals(chain: Chain) -> None:
    payee = fresh_key(3).address
    _fund(chain, 10 * USD)
    tree = PayoutTree([(payee, 8 * USD), (fresh_key(4).address, 1)])
    _settled(chain, tree, 5 * USD)  # the root's leaves exceed its declared total
    with pytest.raises(errors.ExceedsAllocated):
        chain.tx(
            chain.distributor.functions.claimFor(payee, 8 * USD, tree.proof(payee)),
            chain.roles.stranger,
        )


def test_propose_checks(chain: Chain) -> None:
    dist = chain.distributor.functions
    settlement = chain.roles.settlement
    _fund(chain, 10 * USD)
    chain.warp(3 * EPOCH_LENGTH_S)
    now = chain.epoch()
    root = b"\x0f" * 32
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        chain.tx(dist.proposeRoot(0, root, 1, REPORT), chain.roles.stranger)
    with pytest.raises(errors.ZeroRoot):
        chain.tx(dist.proposeRoot(0, b"\x00" * 32, 1, REPORT), settlement)
    with pytest.raises(errors.EpochNotEnded):
        chain.tx(dist.proposeRoot(now, root, 1, REPORT), settlement)
    with pytest.raises(errors.ExceedsReceived) as info:
        chain.tx(dist.proposeRoot(1, root, 10 * USD + 1, REPORT), settlement)
    assert info.value.kwargs == {"allocated": 10 * USD + 1, "received": 10 * USD}
    chain.tx(dist.proposeRoot(1, root, 4 * USD, REPORT), settlement)
    with pytest.raises(errors.RootAlreadyPending):
        chain.tx(dist.proposeRoot(2, root, 1, REPORT), settlement)
    chain.warp(CHALLENGE_WINDOW_S)
    with pytest.raises(errors.EpochNotIncreasing):
        chain.tx(dist.proposeRoot(1, root, 1, REPORT), settlement)
    receipt = chain.tx(dist.activatePendingRoot(), chain.roles.stranger)
    assert chain.events(chain.distributor, "RootActivated", receipt)[0]["epoch"] == 1
    with pytest.raises(errors.ExceedsReceived):
        chain.tx(dist.proposeRoot(2, root, 6 * USD + 1, REPORT), settlement)
    chain.tx(dist.proposeRoot(2, root, 6 * USD, REPORT), settlement)
    assert dist.totalAllocated().call() == 10 * USD


def test_guardian_veto(chain: Chain) -> None:
    dist = chain.distributor.functions
    guardian, settlement = chain.roles.guardian, chain.roles.settlement
    _fund(chain, 10 * USD)
    chain.warp(2 * EPOCH_LENGTH_S)
    bad, good = b"\x0b" * 32, b"\x0c" * 32
    chain.tx(dist.proposeRoot(1, bad, 9 * USD, REPORT), settlement)
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        chain.tx(dist.veto(1), settlement)
    with pytest.raises(errors.NoPendingRoot):
        chain.tx(dist.veto(0), guardian)
    receipt = chain.tx(dist.veto(1), guardian)
    assert bytes(chain.events(chain.distributor, "RootVetoed", receipt)[0]["root"]) == bad
    assert dist.totalAllocated().call() == 0
    with pytest.raises(errors.NoPendingRoot):
        chain.tx(dist.veto(1), guardian)
    chain.tx(dist.proposeRoot(1, good, 9 * USD, REPORT), settlement)  # same epoch again
    chain.warp(CHALLENGE_WINDOW_S)
    with pytest.raises(errors.ChallengeWindowOver):
        chain.tx(dist.veto(1), guardian)
    assert bytes(dist.activeRoot().call()[0]) == good


def test_recover_takes_only_the_surplus(chain: Chain) -> None:
    dist = chain.distributor.functions
    admin = chain.roles.deployer
    _fund(chain, 10 * USD)
    chain.faucet(chain.deployment.distributor, 2 * USD)
    with pytest.raises(errors.ExceedsSurplus):
        chain.tx(dist.recover(chain.deployment.token, admin.address, 2 * USD + 1), admin)
    with pytest.raises(errors.ZeroAddress):
        chain.tx(dist.recover(chain.deployment.token, ZERO, 1), admin)
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        chain.tx(dist.recover(chain.deployment.token, admin.address, 1), chain.roles.stranger)
    receipt = chain.tx(dist.recover(chain.deployment.token, admin.address, 2 * USD), admin)
    assert chain.events(chain.distributor, "Recovered", receipt)[0]["amount"] == 2 * USD
    assert chain.balance(chain.deployment.distributor) == 10 * USD


def test_constructor_checks(chain: Chain) -> None:
    a = chain.roles.deployer.address
    with pytest.raises(errors.ZeroAddress):
        chain.deploy("RoyaltyDistributor", a, a, a, ZERO, 60, 0, 60)
    with pytest.raises(errors.InvalidEpochConfig):
        chain.deploy("RoyaltyDistributor", a, a, a, chain.deployment.token, 60, 0, 0)
