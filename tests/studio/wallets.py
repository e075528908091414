"""Test wallets that sign in the way a browser wallet would (EIP-4361 + personal_sign)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import siwe
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient


@dataclass
class Wallet:
    account: LocalAccount

    @classmethod
    def new(cls) -> Wallet:
        return cls(Account.create())

    @property
    def address(self) -> str:
        return str(self.account.address)

    def siwe_message(
        self,
        nonce: str,
        *,
        domain: str = "testserver",
        uri: str = "http://testserver",
        chain_id: int = 31337,
        issued_at: datetime | None = None,
        expiration_time: datetime | None = None,
    ) -> str:
        def iso(t: datetime) -> str:
            return t.astimezone(UTC).isoformat().replace("+00:00", "Z")

        fields: dict[str, object] = {
            "domain": domain,
            "address": self.address,
            "statement": "Sign in to Timbre.",
            "uri": uri,
            "version": "1",
            "chain_id": chain_id,
            "nonce": nonce,
            "issued_at": iso(issued_at or datetime.now(UTC)),
        }
        if expiration_time is not None:
            fields["expiration_time"] = iso(expiration_time)
        return str(siwe.SiweMessage(**fields).prepare_message())

    def sign(self, text: str) -> str:
        return str(self.account.sign_message(encode_defunct(text=text)).signature.to_0x_hex())


def nonce(client: TestClient) -> str:
    r = client.get("/v1/auth/nonce")
    assert r.status_code == 200, r.text
    return str(r.json()["nonce"])


def sign_in(client: TestClient, wallet: Wallet, *, roles: tuple[str, ...] = ()) -> dict[str, str]:
    """Sign ``wallet`` in; returns the Authorization header. Opts into ``roles``."""
    message = wallet.siwe_message(nonce(client))
    r = client.post("/v1/auth/siwe", json={"message": message, "signature": wallet.sign(message)})
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    for role in roles:
        rr = client.post("/v1/me/roles", json={"role": role}, headers=headers)
        assert rr.status_code == 200, rr.text
    return headers


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
