"""VoiceRegistry: creator-signed, versioned terms; derivative tracks; reads by epoch."""

from __future__ import annotations

import dataclasses

import pytest

from contracts import errors
from contracts.eip712 import (
    TrackApproval,
    escrow_domain,
    registry_domain,
    sign_model_terms,
    sign_track_approval,
)
from tests.contracts.chain import EPOCH_LENGTH_S, Chain

SONG = b"\x5a" * 32


def _terms_at(chain: Chain, model_id: bytes, epoch: int) -> tuple[object, ...]:
    return tuple(chain.registry.functions.termsAt(model_id, epoch).call())


def test_register_model_by_relayer_records_terms(chain: Chain) -> None:
    terms = chain.terms()
    signature = chain.sign_terms(terms)
    receipt = chain.tx(
        chain.registry.functions.registerModel(terms.as_tuple(), signature, b""),
        chain.roles.stranger,
    )
    (event,) = chain.events(chain.registry, "ModelRegistered", receipt)
    model_id = bytes(event["modelId"])
    assert model_id == bytes(
        chain.registry.functions.modelIdOf(terms.creator, terms.artifact_hash).call()
    )
    creator, registered_epoch, retired, artifact = chain.registry.functions.getModel(
        model_id
    ).call()
    assert (creator, registered_epoch, retired, bytes(artifact)) == (
        terms.creator,
        chain.epoch(),
        False,
        terms.artifact_hash,
    )
    version = _terms_at(chain, model_id, chain.epoch())
    assert version == (
        terms.payout,
        5_000,
        4_000,
        1_000,
        False,
        chain.epoch(),
        3_000,
        "ipfs://model-card",
    )
    assert chain.registry.functions.nonces(terms.creator).call() == 1
    assert chain.registry.functions.termsVersionCount(model_id).call() == 1
    assert tuple(chain.registry.functions.termsVersion(model_id, 0).call()) == version


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"creator_bps": 5_001}, errors.InvalidShares),
        ({"platform_bps": 0}, errors.InvalidShares),
        ({"deadline": 1}, errors.SignatureExpired),
        ({"metadata_uri": "x" * 513}, errors.MetadataURITooLong),
        ({"payout": "0x" + "00" * 20}, errors.ZeroAddress),
        ({"nonce": 5}, errors.InvalidAccountNonce),
    ],
)
def test_register_model_rejects_bad_terms(
    chain: Chain, change: dict[str, object], error: type[errors.ContractError]
) -> None:
    terms = chain.terms(**change)
    with pytest.raises(error):
        chain.tx(
            chain.registry.functions.registerModel(terms.as_tuple(), chain.sign_terms(terms), b""),
            chain.roles.stranger,
        )


def test_only_the_creators_signature_authorizes(chain: Chain) -> None:
    terms = chain.terms()
    forged = chain.sign_terms(terms, chain.roles.stranger)
    with pytest.raises(errors.InvalidSignature) as info:
        chain.tx(
            chain.registry.functions.registerModel(terms.as_tuple(), forged, b""), terms.creator
        )
    assert info.value.kwargs["signer"] == terms.creator


def test_signatures_do_not_replay_across_chain_contract_or_purpose(chain: Chain) -> None:
    terms = chain.terms()
    key = bytes(chain.roles.creator.key)
    other_chain = registry_domain(chain.deployment.chain_id + 1, chain.deployment.registry)
    other_contract = registry_domain(chain.deployment.chain_id, chain.deployment.escrow)
    other_purpose = escrow_domain(chain.deployment.chain_id, chain.deployment.registry)
    for domain in (other_chain, other_contract, other_purpose):
        with pytest.raises(errors.InvalidSignature):
            chain.tx(
                chain.registry.functions.registerModel(
                    terms.as_tuple(), sign_model_terms(key, domain, terms), b""
                ),
                chain.roles.stranger,
            )
    # A track approval signature is not a terms signature, even over the same domain.
    approval = TrackApproval(b"\x01" * 32, b"\x02" * 32, chain.roles.fan.address, 1)
    wrong_type = sign_track_approval(key, chain.registry_domain, approval)
    with pytest.raises(errors.InvalidSignature):
        chain.tx(
            chain.registry.functions.registerModel(terms.as_tuple(), wrong_type, b""),
            chain.roles.stranger,
        )


def test_duplicate_model_and_replayed_signature_are_rejected(chain: Chain) -> None:
    terms = chain.terms()
    signature = chain.sign_terms(terms)
    chain.tx(
        chain.registry.functions.registerModel(terms.as_tuple(), signature, b""), terms.creator
    )
    with pytest.raises(errors.ModelAlreadyRegistered):
        chain.tx(
            chain.registry.functions.registerModel(terms.as_tuple(), signature, b""),
            terms.creator,
        )
    # The same signed payload cannot be replayed as an update: its nonce is used.
    with pytest.raises(errors.InvalidAccountNonce):
        chain.tx(
            chain.registry.functions.updateTerms(terms.as_tuple(), signature, b""), terms.creator
        )


def test_distinct_payout_must_prove_control(chain: Chain) -> None:
    terms = chain.terms(payout=chain.roles.payout.address)
    creator_sig = chain.sign_terms(terms)
    with pytest.raises(errors.InvalidSignature) as info:
        chain.tx(
            chain.registry.functions.registerModel(terms.as_tuple(), creator_sig, b""),
            terms.creator,
        )
    assert info.value.kwargs["signer"] == chain.roles.payout.address
    payout_sig = chain.sign_terms(terms, chain.roles.payout)
    chain.tx(
        chain.registry.functions.registerModel(terms.as_tuple(), creator_sig, payout_sig),
        terms.creator,
    )


def test_erc1271_creator_signs_through_its_wallet(chain: Chain) -> None:
    wallet = chain.deploy("MaliciousWallet", chain.roles.creator.address)  # Honest mode
    terms = dataclasses.replace(
        chain.terms(), creator=wallet.address, payout=wallet.address, nonce=0
    )
    signature = chain.sign_terms(terms)  # the wallet's owner signs the registry digest
    chain.tx(
        chain.registry.functions.registerModel(terms.as_tuple(), signature, b""),
        chain.roles.stranger,
    )
    other = dataclasses.replace(terms, artifact_hash=b"\x22" * 32, nonce=1)
    with pytest.raises(errors.InvalidSignature):
        chain.tx(
            chain.registry.functions.registerModel(
                other.as_tuple(), chain.sign_terms(other, chain.roles.stranger), b""
            ),
            chain.roles.stranger,
        )


def test_update_applies_from_next_epoch_never_retroactively(chain: Chain) -> None:
    chain.warp(2 * EPOCH_LENGTH_S)
    model_id = chain.register_model()
    start = chain.epoch()
    with pytest.raises(errors.NoTermsAtEpoch):
        chain.call(chain.registry.functions.termsAt(model_id, start - 1))
    new = chain.terms(creator_bps=6_000, fan_bps=3_000, price_per_play=4_000)
    receipt = chain.tx(
        chain.registry.functions.updateTerms(new.as_tuple(), chain.sign_terms(new), b""),
        chain.roles.stranger,
    )
    (event,) = chain.events(chain.registry, "TermsUpdated", receipt)
    assert (event["version"], event["fromEpoch"]) == (1, start + 1)
    assert _terms_at(chain, model_id, start)[1] == 5_000  # the current epoch keeps old terms
    assert _terms_at(chain, model_id, start + 1)[1] == 6_000
    # A second update in the same epoch replaces the pending one.
    newer = chain.terms(creator_bps=7_000, fan_bps=2_000, price_per_play=5_000)
    chain.tx(
        chain.registry.functions.updateTerms(newer.as_tuple(), chain.sign_terms(newer), b""),
        chain.roles.stranger,
    )
    assert chain.registry.functions.termsVersionCount(model_id).call() == 2
    assert _terms_at(chain, model_id, start + 1)[1] == 7_000
    chain.warp(3 * EPOCH_LENGTH_S)
    latest = chain.terms(creator_bps=8_000, fan_bps=1_000)
    chain.tx(
        chain.registry.functions.updateTerms(latest.as_tuple(), chain.sign_terms(latest), b""),
        chain.roles.stranger,
    )
    now = chain.epoch()
    assert [_terms_at(chain, model_id, e)[1] for e in range(start, now + 3)] == [
        5_000,
        *([7_000] * (now - start)),
        8_000,
        8_000,
    ]


def test_update_of_unknown_model_is_rejected(chain: Chain) -> None:
    terms = chain.terms()
    with pytest.raises(errors.UnknownModel):
        chain.tx(
            chain.registry.functions.updateTerms(terms.as_tuple(), chain.sign_terms(terms), b""),
            terms.creator,
        )


def test_retire_stops_new_tracks_but_existing_keep_terms(chain: Chain) -> None:
    model_id = chain.register_model()
    fan = chain.roles.fan
    chain.tx(chain.registry.functions.registerTrack(model_id, SONG, fan.address, 0, b""), fan)
    with pytest.raises(errors.NotCreator):
        chain.tx(chain.registry.functions.retireModel(model_id), chain.roles.stranger)
    with pytest.raises(errors.UnknownModel):
        chain.tx(chain.registry.functions.retireModel(b"\x00" * 32), chain.roles.creator)
    receipt = chain.tx(chain.registry.functions.retireModel(model_id), chain.roles.creator)
    assert chain.events(chain.registry, "ModelRetired", receipt)[0]["epoch"] == chain.epoch()
    with pytest.raises(errors.ModelIsRetired):
        chain.tx(chain.registry.functions.retireModel(model_id), chain.roles.creator)
    with pytest.raises(errors.ModelIsRetired):
        chain.tx(
            chain.registry.functions.registerTrack(model_id, b"\x5b" * 32, fan.address, 0, b""),
            fan,
        )
    terms, track_fan = chain.registry.functions.trackTermsAt(SONG, chain.epoch()).call()
    assert (terms[1], track_fan) == (5_000, fan.address)


def test_register_track_rules(chain: Chain) -> None:
    model_id = chain.register_model()
    fan, registrar = chain.roles.fan, chain.roles.settlement
    with pytest.raises(errors.NotFanOrRegistrar):
        chain.tx(
            chain.registry.functions.registerTrack(model_id, SONG, fan.address, 0, b""),
            chain.roles.stranger,
        )
    with pytest.raises(errors.ZeroAddress):
        chain.tx(
            chain.registry.functions.registerTrack(model_id, SONG, "0x" + "00" * 20, 0, b""),
            registrar,
        )
    with pytest.raises(errors.UnknownModel):
        chain.tx(
            chain.registry.functions.registerTrack(b"\x09" * 32, SONG, fan.address, 0, b""), fan
        )
    receipt = chain.tx(
        chain.registry.functions.registerTrack(model_id, SONG, fan.address, 0, b""), registrar
    )
    (event,) = chain.events(chain.registry, "TrackRegistered", receipt)
    assert (bytes(event["modelId"]), event["fan"]) == (model_id, fan.address)
    assert tuple(chain.registry.functions.getTrack(SONG).call()) == (
        model_id,
        fan.address,
        chain.epoch(),
    )
    with pytest.raises(errors.TrackAlreadyRegistered):
        chain.tx(chain.registry.functions.registerTrack(model_id, SONG, fan.address, 0, b""), fan)
    with pytest.raises(errors.UnknownTrack):
        chain.call(chain.registry.functions.trackTermsAt(b"\x77" * 32, 0))


def test_track_approval_when_required(chain: Chain) -> None:
    model_id = chain.register_model(chain.terms(approval_required=True))
    fan = chain.roles.fan
    register = chain.registry.functions.registerTrack
    with pytest.raises(errors.InvalidSignature):
        chain.tx(register(model_id, SONG, fan.address, chain.now() + 60, b""), fan)
    deadline, signature = chain.approval(model_id, SONG, fan.address)
    # Bound to the fan, the content and the deadline.
    with pytest.raises(errors.InvalidSignature):
        chain.tx(
            register(model_id, SONG, chain.roles.stranger.address, deadline, signature),
            chain.roles.stranger,
        )
    with pytest.raises(errors.InvalidSignature):
        chain.tx(register(model_id, b"\x5c" * 32, fan.address, deadline, signature), fan)
    with pytest.raises(errors.InvalidSignature):
        chain.tx(register(model_id, SONG, fan.address, deadline + 1, signature), fan)
    other_chain = registry_domain(chain.deployment.chain_id + 1, chain.deployment.registry)
    replayed = sign_track_approval(
        bytes(chain.roles.creator.key),
        other_chain,
        TrackApproval(model_id, SONG, fan.address, deadline),
    )
    with pytest.raises(errors.InvalidSignature):
        chain.tx(register(model_id, SONG, fan.address, deadline, replayed), fan)
    old_deadline, old_signature = chain.approval(model_id, SONG, fan.address)
    chain.warp(7_200)
    with pytest.raises(errors.SignatureExpired):
        chain.tx(register(model_id, SONG, fan.address, old_deadline, old_signature), fan)
    deadline, signature = chain.approval(model_id, SONG, fan.address)
    chain.tx(register(model_id, SONG, fan.address, deadline, signature), chain.roles.settlement)


def test_admin_settings(chain: Chain) -> None:
    registry, admin = chain.registry, chain.roles.deployer
    receipt = chain.tx(registry.functions.setTreasury(chain.roles.payout.address), admin)
    assert (
        chain.events(registry, "TreasurySet", receipt)[0]["treasury"] == chain.roles.payout.address
    )
    assert registry.functions.treasury().call() == chain.roles.payout.address
    chain.tx(registry.functions.setDustAccount(chain.roles.payout.address), admin)
    assert registry.functions.dustAccount().call() == chain.roles.payout.address
    for fn in (registry.functions.setTreasury, registry.functions.setDustAccount):
        with pytest.raises(errors.ZeroAddress):
            chain.tx(fn("0x" + "00" * 20), admin)
        with pytest.raises(errors.AccessControlUnauthorizedAccount):
            chain.tx(fn(chain.roles.stranger.address), chain.roles.stranger)


def test_constructor_checks(chain: Chain) -> None:
    a = chain.roles.deployer.address
    with pytest.raises(errors.InvalidEpochConfig):
        chain.deploy("VoiceRegistry", a, a, a, 0, 0)
    with pytest.raises(errors.InvalidEpochConfig):
        chain.deploy("VoiceRegistry", a, a, a, chain.now() + 10_000, 60)
    with pytest.raises(errors.ZeroAddress):
        chain.deploy("VoiceRegistry", "0x" + "00" * 20, a, a, 0, 60)
