"""Sign-In with Ethereum: the success path and every rejection, sessions and logout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from studio.db.models import Account, AuthNonce
from studio.db.models import Session as SessionRow
from studio.services import Services
from tests.studio.wallets import Wallet, nonce, sign_in


def _post(client: TestClient, message: str, signature: str) -> tuple[int, dict[str, object]]:
    r = client.post("/v1/auth/siwe", json={"message": message, "signature": signature})
    return r.status_code, r.json()


def _code(body: dict[str, object]) -> object:
    err = body["error"]
    assert isinstance(err, dict)
    assert set(err) == {"code", "message", "detail"}
    return err["code"]


def test_sign_in_returns_a_working_session(client: TestClient) -> None:
    wallet = Wallet.new()
    message = wallet.siwe_message(nonce(client))
    status, body = _post(client, message, wallet.sign(message))
    assert status == 200
    assert body["address"] == wallet.address
    expires = datetime.fromisoformat(str(body["expires_at"]))
    assert expires > datetime.now(UTC) + timedelta(hours=1)
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["address"] == wallet.address
    assert me.json()["roles"] == []


def test_same_wallet_signs_in_again_to_the_same_account(client: TestClient) -> None:
    wallet = Wallet.new()
    first = client.get("/v1/me", headers=sign_in(client, wallet)).json()["id"]
    second = client.get("/v1/me", headers=sign_in(client, wallet)).json()["id"]
    assert first == second


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"domain": "evil.example"}, "siwe_wrong_domain"),
        ({"uri": "http://evil.example"}, "siwe_wrong_uri"),
        ({"chain_id": 1}, "siwe_wrong_chain"),
        ({"expiration_time": datetime.now(UTC) - timedelta(seconds=1)}, "siwe_expired"),
        ({"issued_at": datetime.now(UTC) + timedelta(hours=1)}, "siwe_issued_in_future"),
    ],
)
def test_message_checks_reject_without_consuming_anything(
    client: TestClient, services: Services, changes: dict[str, object], code: str
) -> None:
    wallet = Wallet.new()
    n = nonce(client)
    message = wallet.siwe_message(n, **changes)  # type: ignore[arg-type]
    status, body = _post(client, message, wallet.sign(message))
    assert status == 401
    assert _code(body) == code
    with services.db() as db:
        assert db.get(AuthNonce, n).used_at is None  # type: ignore[union-attr]
        assert db.scalars(select(Account).where(Account.address == wallet.address)).first() is None


def test_reused_nonce_is_rejected(client: TestClient) -> None:
    wallet = Wallet.new()
    message = wallet.siwe_message(nonce(client))
    assert _post(client, message, wallet.sign(message))[0] == 200
    status, body = _post(client, message, wallet.sign(message))
    assert status == 401
    assert _code(body) == "siwe_nonce_used"


def test_nonce_not_issued_by_us_is_rejected(client: TestClient) -> None:
    wallet = Wallet.new()
    message = wallet.siwe_message("a" * 32)
    status, body = _post(client, message, wallet.sign(message))
    assert (status, _code(body)) == (401, "siwe_unknown_nonce")


def test_expired_nonce_is_rejected(client: TestClient, services: Services) -> None:
    wallet = Wallet.new()
    n = nonce(client)
    with services.db() as db:
        db.execute(
            update(AuthNonce)
            .where(AuthNonce.nonce == n)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.commit()
    message = wallet.siwe_message(n)
    status, body = _post(client, message, wallet.sign(message))
    assert (status, _code(body)) == (401, "siwe_nonce_expired")


def test_signature_by_another_key_is_rejected(client: TestClient, services: Services) -> None:
    wallet, impostor = Wallet.new(), Wallet.new()
    n = nonce(client)
    message = wallet.siwe_message(n)
    status, body = _post(client, message, impostor.sign(message))
    assert (status, _code(body)) == (401, "siwe_bad_signature")
    with services.db() as db:  # a failed attempt does not burn the user's nonce
        assert db.get(AuthNonce, n).used_at is None  # type: ignore[union-attr]


def test_garbage_signature_and_tampered_message_are_rejected(client: TestClient) -> None:
    wallet = Wallet.new()
    message = wallet.siwe_message(nonce(client))
    signature = wallet.sign(message)
    assert _code(_post(client, message, "0x" + "11" * 65)[1]) == "siwe_bad_signature"
    tampered = message.replace("Sign in to Timbre.", "Sign in to Timbre!")
    assert _code(_post(client, tampered, signature)[1]) == "siwe_bad_signature"


def test_malformed_message_is_422(client: TestClient) -> None:
    status, body = _post(client, "hello, please let me in", "0x" + "11" * 65)
    assert (status, _code(body)) == (422, "siwe_malformed")


def test_logout_ends_the_session(client: TestClient) -> None:
    headers = sign_in(client, Wallet.new())
    assert client.post("/v1/auth/logout", headers=headers).status_code == 204
    r = client.get("/v1/me", headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "session_invalid")


def test_expired_session_is_refused(client: TestClient, services: Services) -> None:
    wallet = Wallet.new()
    headers = sign_in(client, wallet)
    with services.db() as db:
        account = db.scalars(select(Account).where(Account.address == wallet.address)).one()
        db.execute(
            update(SessionRow)
            .where(SessionRow.account_id == account.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.commit()
    r = client.get("/v1/me", headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "session_expired")


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Basic abc", "Bearer tsn_not-a-real-token", "bearer  "]
)
def test_missing_or_bad_bearer_is_401(client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    r = client.get("/v1/me", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] in {"not_signed_in", "session_invalid"}


def test_session_token_is_stored_hashed(client: TestClient, services: Services) -> None:
    headers = sign_in(client, Wallet.new())
    token = headers["Authorization"].split()[1]
    with services.db() as db:
        stored = {row.token_sha256 for row in db.scalars(select(SessionRow))}
    assert token not in stored


def test_me_reports_every_role_sorted_as_the_orm_path_does(client: TestClient) -> None:
    """GET /v1/me resolves the session with one Core statement (a row per role); POST
    /v1/me/roles through the ORM. Both describe the same account the same way."""
    wallet = Wallet.new()
    headers = sign_in(client, wallet)
    assert client.get("/v1/me", headers=headers).json()["roles"] == []
    for role, expected in (("fan", ["fan"]), ("creator", ["creator", "fan"])):
        granted = client.post("/v1/me/roles", json={"role": role}, headers=headers)
        assert granted.status_code == 200 and granted.json()["roles"] == expected
        assert client.get("/v1/me", headers=headers).json() == granted.json()
    # another session of the same wallet: the same account and roles, its own expiry
    again = client.get("/v1/me", headers=sign_in(client, wallet)).json()
    assert (again["id"], again["roles"]) == (granted.json()["id"], ["creator", "fan"])
