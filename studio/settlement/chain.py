"""The settlement's handle on the chain: the web3 connection, the bound contracts and the
account that sends (the relayer key: it holds the registrar and settlement roles)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import Web3Exception
from web3.types import RPCEndpoint

from contracts.deploy import Contracts, Deployment, connect
from royalties.report import ChainRef
from studio.errors import ServiceUnavailable, TimbreError
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


_CHAINS: dict[tuple[str, Deployment, str], SettlementChain] = {}
_LOCK = threading.Lock()


def settlement_chain(services: Services) -> SettlementChain | None:
    """The chain of ``services``, or None when no chain or deployment is configured.

    Its own web3 connection caches ``eth_chainId``: web3 asks for it around every call, and
    the access path reads the escrow once per play (one round trip instead of three)."""
    s = services.settings
    if services.chain is None or services.deployment is None:
        return None
    key = s.relayer_key.get_secret_value() if s.relayer_key is not None else ""
    cache_key = (s.chain_rpc_url, services.deployment, key)  # Deployment is frozen: hashable
    with _LOCK:
        chain = _CHAINS.get(cache_key)
        if chain is None:
            w3 = Web3(
                Web3.HTTPProvider(
                    s.chain_rpc_url,
                    request_kwargs={"timeout": 30},
                    # No retries: web3's default retries timeouts with back-off, so a hung
                    # provider held access, channel and payout routes for minutes (faults bug 8).
                    exception_retry_configuration=None,
                    cache_allowed_requests=True,
                    cacheable_requests={RPCEndpoint("eth_chainId")},
                )
            )
            sender = Account.from_key(key) if key else None
            try:
                contracts = connect(w3, services.deployment)
            except (OSError, ValueError, Web3Exception) as exc:
                raise ServiceUnavailable(
                    f"The chain at TIMBRE_CHAIN_RPC_URL cannot be used: {type(exc).__name__}.",
                    code="chain_unavailable",
                ) from exc
            chain = SettlementChain(w3, services.deployment, contracts, sender)
            _CHAINS[cache_key] = chain
    return chain


P = ParamSpec("P")
R = TypeVar("R")


def answers_503(fn: Callable[P, R]) -> Callable[P, R]:
    """An unreachable chain (connection refused, timeout) becomes 503 ``chain_unavailable``
    naming the setting, instead of escaping as an internal error."""

    @functools.wraps(fn)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except OSError as exc:
            if isinstance(exc, TimbreError):  # ours (Forbidden is a PermissionError)
                raise
            raise ServiceUnavailable(
                "The chain at TIMBRE_CHAIN_RPC_URL did not answer; try again shortly.",
                code="chain_unavailable",
            ) from exc

    return wrapped


def require_chain(services: Services) -> SettlementChain:
    chain = settlement_chain(services)
    if chain is None:
        raise ServiceUnavailable(
            "No chain is configured (TIMBRE_CHAIN_RPC_URL, TIMBRE_DEPLOYMENT_FILE).",
            code="chain_not_configured",
        )
    return chain
