"""Timbre contracts: Solidity sources, pinned build, committed artifacts and Python bindings.

What the settlement service and the studio use: deploy/load a deployment, bind contracts, build
and verify EIP-712 payloads, build payout Merkle trees, decode reverts, run a local anvil.
"""

from contracts.anvil import AnvilError, AnvilNode, dev_accounts
from contracts.artifacts import Artifact, artifact_names, bind, load_artifact
from contracts.deploy import Contracts, Deployment, connect, deploy_all, load_or_deploy
from contracts.eip712 import (
    Eip712Domain,
    ModelTerms,
    SignatureError,
    TrackApproval,
    Voucher,
    escrow_domain,
    model_terms_digest,
    model_terms_typed_data,
    recover_digest,
    recover_voucher_signer,
    registry_domain,
    sign_digest,
    sign_model_terms,
    sign_track_approval,
    sign_voucher,
    track_approval_digest,
    track_approval_typed_data,
    voucher_digest,
    voucher_typed_data,
)
from contracts.erc1271 import is_valid_signature
from contracts.errors import ContractError, decode_revert
from contracts.merkle import PayoutTree, leaf_hash
from contracts.transact import TransactionReverted, call, transact
from contracts.views import ChannelState, Model, TermsVersion, Track

__all__ = [
    "AnvilError",
    "AnvilNode",
    "Artifact",
    "ChannelState",
    "ContractError",
    "Contracts",
    "Deployment",
    "Eip712Domain",
    "Model",
    "ModelTerms",
    "PayoutTree",
    "SignatureError",
    "TermsVersion",
    "Track",
    "TrackApproval",
    "TransactionReverted",
    "Voucher",
    "artifact_names",
    "bind",
    "call",
    "connect",
    "decode_revert",
    "deploy_all",
    "dev_accounts",
    "escrow_domain",
    "is_valid_signature",
    "leaf_hash",
    "load_artifact",
    "load_or_deploy",
    "model_terms_digest",
    "model_terms_typed_data",
    "recover_digest",
    "recover_voucher_signer",
    "registry_domain",
    "sign_digest",
    "sign_model_terms",
    "sign_track_approval",
    "sign_voucher",
    "track_approval_digest",
    "track_approval_typed_data",
    "transact",
    "voucher_digest",
    "voucher_typed_data",
]
