"""The settlement's handle on the chain: the web3 connection, the bound contracts and the
account that sends (the relayer key: it holds the registrar and settlement roles)."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from contracts.deploy import Contracts, Deployment, connect
from royalties.report import ChainRef
from studio.errors import ServiceUnavailable
from studio.services import Services


@dataclass(frozen=True)
class SettlementChain:
    w3: Web3
    deployment: Deployment
    contracts: Contracts
    sender: LocalAccount | None

    @property
    def ref(self) -> ChainRef:
        d = self.deployment
        return ChainRef(d.chain_id, d.registry, d.escrow, d.distributor)

    def require_sender(self) -> LocalAccount:
        if self.sender is None:
            raise ServiceUnavailable(
                "No relayer key is configured (TIMBRE_RELAYER_KEY): nothing can be sent on-chain.",
                code="relayer_not_configured",
            )
        return self.sender


_BOUND: dict[tuple[int, str], Contracts] = {}


def settlement_chain(services: Services) -> SettlementChain | None:
    """The chain of ``services``, or None when no chain or deployment is configured."""
    if services.chain is None or services.deployment is None:
        return None
    key = services.settings.relayer_key
    sender = Account.from_key(key.get_secret_value()) if key is not None else None
    cache_key = (id(services.chain), services.deployment.registry)
    contracts = _BOUND.get(cache_key)
    if contracts is None:
        contracts = connect(services.chain, services.deployment)
        _BOUND[cache_key] = contracts
    return SettlementChain(services.chain, services.deployment, contracts, sender)


def require_chain(services: Services) -> SettlementChain:
    chain = settlement_chain(services)
    if chain is None:
        raise ServiceUnavailable(
            "No chain is configured (TIMBRE_CHAIN_RPC_URL, TIMBRE_DEPLOYMENT_FILE).",
            code="chain_not_configured",
        )
    return chain
