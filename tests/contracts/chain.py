"""A deployed contract set on the session's anvil node, with helpers tests share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from contracts.anvil import AnvilNode
from contracts.artifacts import load_artifact
from contracts.deploy import Contracts, Deployment, connect
from contracts.eip712 import (
    Eip712Domain,
    ModelTerms,
    TrackApproval,
    Voucher,
    escrow_domain,
    registry_domain,
    sign_model_terms,
    sign_track_approval,
    sign_voucher,
)
from contracts.transact import Sender, call, transact

EPOCH_LENGTH_S = 3_600
CHALLENGE_WINDOW_S = 600
WITHDRAWAL_DELAY_S = 86_400
USD = 10**6  # TestUSD base units per dollar


@dataclass(frozen=True)
class Roles:
    """The dev accounts by the part they play."""

    deployer: LocalAccount
    settlement: LocalAccount
    guardian: LocalAccount
    treasury: LocalAccount
    dust: LocalAccount
    creator: LocalAccount
    fan: LocalAccount
    platform: LocalAccount
    stranger: LocalAccount
    payout: LocalAccount

    @classmethod
    def from_node(cls, node: AnvilNode) -> Roles:
        return cls(*node.dev_accounts[:10])


class Chain:
    """The deployment plus shortcuts; state is reverted after each test by the fixture."""

    def __init__(self, node: AnvilNode, w3: Web3, deployment: Deployment, roles: Roles) -> None:
        self.node = node
        self.w3 = w3
        self.deployment = deployment
        self.roles = roles
        self.c: Contracts = connect(w3, deployment)
        self.registry = self.c.registry
        self.escrow = self.c.escrow
        self.distributor = self.c.distributor
        self.token = self.c.token

    # ------------------------------------------------------------------ basics

    def tx(self, fn: Any, sender: Sender | LocalAccount, **kwargs: Any) -> TxReceipt:
        """Sends from an unlocked dev account (by address: no local signing needed)."""
        address = sender if isinstance(sender, str) else sender.address
        return transact(self.w3, fn, address, **kwargs)

    def call(self, fn: Any, sender: Sender | LocalAccount | None = None) -> Any:
        address = None if sender is None else sender if isinstance(sender, str) else sender.address
        return call(fn, sender=address)

    def now(self) -> int:
        return self.node.latest_timestamp()

    def warp(self, seconds: int) -> None:
        """Moves time forward by ``seconds`` and mines a block."""
        self.node.increase_time(seconds)
        self.node.mine()

    def epoch(self) -> int:
        return int(self.registry.functions.currentEpoch().call())

    def deploy(self, name: str, *args: Any, sender: LocalAccount | None = None) -> Contract:
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = self.tx(factory.constructor(*args), sender or self.roles.deployer)
        address = receipt["contractAddress"]
        assert address is not None
        return self.w3.eth.contract(address=address, abi=artifact.abi)

    def events(self, contract: Contract, name: str, receipt: TxReceipt) -> list[Any]:
        event = getattr(contract.events, name)()
        return [e["args"] for e in event.process_receipt(receipt, errors=DISCARD)]

    # ------------------------------------------------------------------ domains

    @property
    def registry_domain(self) -> Eip712Domain:
        return registry_domain(self.deployment.chain_id, self.deployment.registry)

    @property
    def escrow_domain(self) -> Eip712Domain:
        return escrow_domain(self.deployment.chain_id, self.deployment.escrow)

    # ------------------------------------------------------------------ token

    def faucet(self, to: str, amount: int) -> None:
        self.tx(self.token.functions.faucet(to, amount), self.roles.deployer)

    def permit(
        self,
        owner: LocalAccount,
        spender: str,
        value: int,
        deadline: int,
        nonce: int | None = None,
    ) -> tuple[int, bytes, bytes]:
        """An EIP-2612 permit signature (v, r, s) for TestUSD."""
        if nonce is None:
            nonce = int(self.token.functions.nonces(owner.address).call())
        typed = {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Permit": [
                    {"name": "owner", "type": "address"},
                    {"name": "spender", "type": "address"},
                    {"name": "value", "type": "uint256"},
                    {"name": "nonce", "type": "uint256"},
                    {"name": "deadline", "type": "uint256"},
                ],
            },
            "primaryType": "Permit",
            "domain": {
                "name": "Timbre Test USD",
                "version": "1",
                "chainId": self.deployment.chain_id,
                "verifyingContract": self.deployment.token,
            },
            "message": {
                "owner": owner.address,
                "spender": spender,
                "value": value,
                "nonce": nonce,
                "deadline": deadline,
            },
        }
        signed = Account.sign_typed_data(owner.key, full_message=typed)
        return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")

    def balance(self, account: str) -> int:
        return int(self.token.functions.balanceOf(account).call())

    # ------------------------------------------------------------------ registry

    def terms(self, creator: LocalAccount | None = None, **overrides: Any) -> ModelTerms:
        who = creator or self.roles.creator
        values: dict[str, Any] = {
            "creator": who.address,
            "payout": who.address,
            "artifact_hash": b"\x11" * 32,
            "metadata_uri": "ipfs://model-card",
            "creator_bps": 5_000,
            "fan_bps": 4_000,
            "platform_bps": 1_000,
            "price_per_play": 3_000,
            "approval_required": False,
            "nonce": int(self.registry.functions.nonces(who.address).call()),
            "deadline": self.now() + 3_600,
        }
        values.update(overrides)
        return ModelTerms(**values)

    def sign_terms(self, terms: ModelTerms, signer: LocalAccount | None = None) -> bytes:
        return sign_model_terms(
            bytes((signer or self.roles.creator).key), self.registry_domain, terms
        )

    def register_model(
        self, terms: ModelTerms | None = None, signer: LocalAccount | None = None
    ) -> bytes:
        terms = terms or self.terms()
        signature = self.sign_terms(terms, signer)
        self.tx(
            self.registry.functions.registerModel(terms.as_tuple(), signature, b""),
            self.roles.stranger,  # any relayer may submit
        )
        return bytes(self.registry.functions.modelIdOf(terms.creator, terms.artifact_hash).call())

    def approval(
        self, model_id: bytes, content_hash: bytes, fan: str, signer: LocalAccount | None = None
    ) -> tuple[int, bytes]:
        deadline = self.now() + 3_600
        signature = sign_track_approval(
            bytes((signer or self.roles.creator).key),
            self.registry_domain,
            TrackApproval(model_id, content_hash, fan, deadline),
        )
        return deadline, signature

    # ------------------------------------------------------------------ escrow

    def open_channel(
        self,
        deposit: int = 0,
        owner: LocalAccount | None = None,
        signer: str | None = None,
    ) -> int:
        who = owner or self.roles.platform
        receipt = self.tx(
            self.escrow.functions.openChannel(self.deployment.token, signer or who.address), who
        )
        channel_id = int(self.events(self.escrow, "ChannelOpened", receipt)[0]["channelId"])
        if deposit:
            self.deposit(channel_id, deposit, who)
        return channel_id

    def deposit(self, channel_id: int, amount: int, who: LocalAccount | None = None) -> None:
        payer = who or self.roles.platform
        self.faucet(payer.address, amount)
        self.tx(self.token.functions.approve(self.deployment.escrow, amount), payer)
        self.tx(self.escrow.functions.deposit(channel_id, amount), payer)

    def voucher(
        self,
        channel_id: int,
        cumulative: int,
        seq: int,
        key: LocalAccount | None = None,
        usage_root: bytes = b"\x42" * 32,
    ) -> tuple[int, int, bytes, int, bytes]:
        v = Voucher(channel_id, cumulative, usage_root, seq)
        signature = sign_voucher(bytes((key or self.roles.platform).key), self.escrow_domain, v)
        return v.as_tuple(signature)

    def claim_vouchers(self, vouchers: list[Any]) -> TxReceipt:
        return self.tx(self.escrow.functions.claim(vouchers), self.roles.settlement)

    def channel(self, channel_id: int) -> dict[str, Any]:
        names = [
            "token",
            "signer",
            "owner",
            "balance",
            "claimed",
            "last_seq",
            "withdraw_amount",
            "withdraw_ready_at",
        ]
        return dict(zip(names, self.escrow.functions.getChannel(channel_id).call(), strict=True))

    # ------------------------------------------------------------------ distributor

    def propose(self, epoch: int, root: bytes, total: int, report: bytes = b"\x07" * 32) -> None:
        self.tx(
            self.distributor.functions.proposeRoot(epoch, root, total, report),
            self.roles.settlement,
        )


def fresh_key(seed: int) -> LocalAccount:
    """A deterministic throwaway account (payees that never send transactions)."""
    return Account.from_key((seed + 1).to_bytes(32, "big"))
