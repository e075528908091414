"""Platforms and the API key lifecycle; role enforcement across sessions and keys."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from studio.db.models import ApiKey
from studio.services import Services
from tests.studio.wallets import Wallet, sign_in


def _platform(client: TestClient, headers: dict[str, str], name: str = "Streamy") -> str:
    r = client.post("/v1/platforms", json={"name": name}, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_register_binds_platform_to_wallet_and_grants_role(client: TestClient) -> None:
    wallet = Wallet.new()
    headers = sign_in(client, wallet)
    r = client.post("/v1/platforms", json={"name": "Streamy"}, headers=headers)
    assert r.status_code == 201
    assert r.json()["wallet_address"] == wallet.address
    assert client.get("/v1/me", headers=headers).json()["roles"] == ["platform"]
    again = client.post("/v1/platforms", json={"name": "Other"}, headers=headers)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "platform_exists")


def test_api_key_lifecycle(client: TestClient, services: Services) -> None:
    headers = sign_in(client, Wallet.new())
    pid = _platform(client, headers)
    created = client.post(f"/v1/platforms/{pid}/api-keys", json={"name": "prod"}, headers=headers)
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("tk_") and key.startswith(created.json()["prefix"])

    # usable, and only ever shown once: listings carry the prefix, never the key
    me = client.get("/v1/platforms/current", headers={"X-API-Key": key})
    assert me.status_code == 200 and me.json()["id"] == pid
    listing = client.get(f"/v1/platforms/{pid}/api-keys", headers=headers)
    assert listing.status_code == 200
    assert [k["prefix"] for k in listing.json()] == [created.json()["prefix"]]
    assert key not in listing.text
    assert listing.json()[0]["last_used_at"] is not None
    with services.db() as db:
        assert key not in {row.key_sha256 for row in db.scalars(select(ApiKey))}

    revoked = client.delete(f"/v1/platforms/{pid}/api-keys/{created.json()['id']}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    after = client.get("/v1/platforms/current", headers={"X-API-Key": key})
    assert (after.status_code, after.json()["error"]["code"]) == (401, "api_key_revoked")


def test_the_play_route_resolves_keys_as_every_other_route(client: TestClient) -> None:
    """``POST /v1/access`` resolves its key on its own hot path: the same refusals, and it
    records the key's last use."""
    headers = sign_in(client, Wallet.new())
    pid = _platform(client, headers)
    created = client.post(f"/v1/platforms/{pid}/api-keys", json={"name": "p"}, headers=headers)
    key, key_id = created.json()["key"], created.json()["id"]
    play = {
        "track_id": "0x" + "00" * 32,
        "timestamp": 1,
        "voucher": {
            "channel_id": "1",
            "cumulative_amount": "1",
            "usage_root": "0x" + "00" * 32,
            "seq": 1,
        },
        "signature": "0x" + "11" * 65,
    }

    def code(api_key: str | None) -> tuple[int, str]:
        extra = {} if api_key is None else {"X-API-Key": api_key}
        r = client.post("/v1/access", json=play, headers=extra)
        return r.status_code, r.json()["error"]["code"]

    assert code(None) == (401, "no_api_key")
    assert code("tk_nope") == (401, "api_key_invalid")
    # the key is good: the platform is asked to open its channel first
    assert code(key) == (409, "channel_not_open")
    listing = client.get(f"/v1/platforms/{pid}/api-keys", headers=headers).json()
    assert listing[0]["last_used_at"] is not None
    client.delete(f"/v1/platforms/{pid}/api-keys/{key_id}", headers=headers)
    assert code(key) == (401, "api_key_revoked")


def test_unknown_or_missing_api_key_is_401(client: TestClient) -> None:
    r = client.get("/v1/platforms/current", headers={"X-API-Key": "tk_nope"})
    assert (r.status_code, r.json()["error"]["code"]) == (401, "api_key_invalid")
    r = client.get("/v1/platforms/current")
    assert (r.status_code, r.json()["error"]["code"]) == (401, "no_api_key")


def test_other_users_platform_and_keys_are_invisible(client: TestClient) -> None:
    owner, stranger = sign_in(client, Wallet.new()), sign_in(client, Wallet.new())
    pid = _platform(client, owner)
    key_id = client.post(f"/v1/platforms/{pid}/api-keys", json={"name": "k"}, headers=owner).json()[
        "id"
    ]
    for method, path, body in [
        ("GET", f"/v1/platforms/{pid}", None),
        ("GET", f"/v1/platforms/{pid}/api-keys", None),
        ("POST", f"/v1/platforms/{pid}/api-keys", {"name": "mine now"}),
        ("DELETE", f"/v1/platforms/{pid}/api-keys/{key_id}", None),
    ]:
        r = client.request(method, path, json=body, headers=stranger)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "platform_not_found"), path
    # and the owner's key still works
    assert (
        client.get(f"/v1/platforms/{pid}/api-keys", headers=owner).json()[0]["revoked_at"] is None
    )


def test_credentials_are_not_interchangeable(client: TestClient) -> None:
    headers = sign_in(client, Wallet.new())
    pid = _platform(client, headers)
    key = client.post(f"/v1/platforms/{pid}/api-keys", json={"name": "k"}, headers=headers).json()[
        "key"
    ]
    # an API key is not a session, and a session token is not an API key
    assert client.get("/v1/me", headers={"X-API-Key": key}).status_code == 401
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    token = headers["Authorization"].split()[1]
    assert client.get("/v1/platforms/current", headers={"X-API-Key": token}).status_code == 401


def test_roles_gate_uploads(client: TestClient) -> None:
    wallet = Wallet.new()
    headers = sign_in(client, wallet)
    files = {"file": ("x.wav", b"RIFF", "audio/wav")}
    r = client.post("/v1/uploads", files=files, headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "role_required")
    # a platform is not a creator or fan either
    _platform(client, headers)
    r = client.post("/v1/uploads", files=files, headers=headers)
    assert r.status_code == 403
    assert client.post("/v1/me/roles", json={"role": "fan"}, headers=headers).status_code == 200
    r = client.post("/v1/uploads", files=files, headers=headers)
    assert r.status_code == 422  # now admitted, and the bytes are judged (not audio)
    bad = client.post("/v1/me/roles", json={"role": "platform"}, headers=headers)
    assert bad.status_code == 422  # the platform role cannot be self-granted
