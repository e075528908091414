"""Public configuration for clients (the web app): chain, contract addresses, limits."""

from __future__ import annotations

from fastapi import APIRouter

from contracts.anvil import dev_accounts
from studio.deps import ServicesDep
from studio.schemas import ConfigOut, DemoWalletOut, DeploymentOut

router = APIRouter(prefix="/v1", tags=["config"])
TOKEN_DECIMALS = 6
DEMO_LABELS = ("Demo creator", "Demo fan", "Demo platform", "Demo fan 2", "Demo creator 2")


@router.get("/config", response_model=ConfigOut)
def get_config(services: ServicesDep) -> ConfigOut:
    s, d = services.settings, services.deployment
    contracts = (
        DeploymentOut(
            chain_id=d.chain_id,
            registry=d.registry,
            escrow=d.escrow,
            distributor=d.distributor,
            token=d.token,
            epoch_genesis=d.epoch_genesis,
            epoch_length_s=d.epoch_length_s,
        )
        if d is not None
        else None
    )
    demo: list[DemoWalletOut] = []
    if s.demo_wallets and s.environment != "production":
        # Skip the first accounts: they deploy contracts and act as settlement/guardian.
        accounts = dev_accounts(5 + s.demo_wallets)[5:]
        demo = [
            DemoWalletOut(
                label=DEMO_LABELS[i] if i < len(DEMO_LABELS) else f"Demo wallet {i + 1}",
                address=a.address,
                private_key="0x" + bytes(a.key).hex(),
            )
            for i, a in enumerate(accounts)
        ]
    return ConfigOut(
        chain_id=s.chain_id,
        public_url=s.public_url,
        token_decimals=TOKEN_DECIMALS,
        max_upload_bytes=s.max_upload_bytes,
        max_upload_duration_s=s.max_upload_duration_s,
        contracts=contracts,
        demo_wallets=demo,
    )
