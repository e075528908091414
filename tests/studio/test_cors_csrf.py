"""CORS, cookies and CSRF (docs/SECURITY.md).

Credentials are never ambient: a session is a bearer token the web app keeps in
sessionStorage and sends in ``Authorization``; platforms send ``X-API-Key`` from their
servers. No route sets a cookie, so a cross-site form or image can carry no credential, and
browsers may call the API cross-origin only from the sites ``TIMBRE_CORS_ORIGINS`` lists
(none by default: the web app is served same-origin)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from studio.app import create_app
from studio.limits import WRITE_METHODS, _rule
from studio.settings import Settings
from tests.studio.test_authz_matrix import app_routes
from tests.studio.wallets import Wallet, nonce, sign_in

LISTED = "https://player.example"
UNLISTED = "https://evil.example"


def preflight(client: TestClient, origin: str, method: str = "POST") -> dict[str, str]:
    r = client.options(
        "/v1/jobs",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type, x-api-key",
        },
    )
    return {k.lower(): v for k, v in r.headers.items()} | {":status": str(r.status_code)}


def test_no_cross_origin_access_by_default(client: TestClient) -> None:
    h = preflight(client, UNLISTED)
    assert "access-control-allow-origin" not in h
    assert h[":status"] in ("404", "405")  # no CORS layer at all: OPTIONS is not a route
    r = client.get("/v1/config", headers={"Origin": UNLISTED})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


@pytest.fixture
def cors_client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(cors_origins=f"{LISTED}, http://localhost:5173/")


def test_listed_origins_only(cors_client: TestClient) -> None:
    h = preflight(cors_client, LISTED)
    assert h[":status"] == "200"
    assert h["access-control-allow-origin"] == LISTED
    allowed = {x.strip().lower() for x in h["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-api-key"} <= allowed
    # Never credentials (cookies): the API has none to share.
    assert "access-control-allow-credentials" not in h
    assert preflight(cors_client, "http://localhost:5173")["access-control-allow-origin"] == (
        "http://localhost:5173"
    )

    refused = preflight(cors_client, UNLISTED)
    assert "access-control-allow-origin" not in refused
    assert refused[":status"] == "400"
    # A look-alike origin is not the listed one.
    assert "access-control-allow-origin" not in preflight(cors_client, LISTED + ".evil.example")
    assert "access-control-allow-origin" not in preflight(cors_client, LISTED.replace("s:", ":"))

    r = cors_client.get("/v1/config", headers={"Origin": LISTED})
    assert r.headers["access-control-allow-origin"] == LISTED
    assert "origin" in r.headers["vary"].lower()
    assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
    r = cors_client.get("/v1/config", headers={"Origin": UNLISTED})
    assert "access-control-allow-origin" not in r.headers

    # A listed site signs in and calls the API with the bearer token: no cookie involved.
    wallet = Wallet.new()
    message = wallet.siwe_message(nonce(cors_client))
    r = cors_client.post(
        "/v1/auth/siwe",
        json={"message": message, "signature": wallet.sign(message)},
        headers={"Origin": LISTED},
    )
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == LISTED
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize(
    "value",
    ["*", "https://a.example/path", "a.example", "https://*.example", "null", "https://a b"],
)
def test_origins_must_be_listed_one_by_one(value: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="TIMBRE_CORS_ORIGINS"):
        Settings(environment="test", var_dir=tmp_path, cors_origins=value)


def test_no_route_sets_a_cookie_during_sign_in_and_use(client: TestClient) -> None:
    wallet = Wallet.new()
    r = client.get("/v1/auth/nonce")
    assert "set-cookie" not in r.headers
    headers = sign_in(client, wallet, roles=("fan",))
    for method, path in [("GET", "/v1/me"), ("GET", "/v1/uploads"), ("POST", "/v1/auth/logout")]:
        r = client.request(method, path, headers=headers)
        assert r.status_code < 300 and "set-cookie" not in r.headers, (path, r.headers)
    assert not client.cookies


def test_a_cross_site_request_carries_no_credential(client: TestClient) -> None:
    """What a hostile page can make a browser send: a form post or a no-cors fetch with
    cookies and a simple content type, but never an Authorization or X-API-Key header."""
    for path in ["/v1/tracks/00000000-0000-0000-0000-000000000000/retire", "/v1/payouts/me/claim"]:
        r = client.post(
            path,
            content=b"a=1",
            headers={
                "Origin": UNLISTED,
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": "session=stolen",
            },
        )
        assert r.status_code == 401, (path, r.text)
    # A text/plain "JSON" body (a form's enctype) is not taken as JSON: no login CSRF either.
    wallet = Wallet.new()
    message = wallet.siwe_message(nonce(client))
    r = client.post(
        "/v1/auth/siwe",
        content=f'{{"message": {message!r}, "signature": "{wallet.sign(message)}"}}'.replace(
            "'", '"'
        ),
        headers={"Origin": UNLISTED, "Content-Type": "text/plain"},
    )
    assert r.status_code in (415, 422), r.text


def test_gets_change_nothing() -> None:
    """By convention every GET reads: none takes a body, none counts against the write limit;
    the single GET that writes issues a sign-in nonce (no credential involved)."""
    app = create_app()
    settings = Settings(environment="test")
    gets = sorted(r.split(" ", 1)[1] for r in app_routes(app) if r.startswith("GET "))
    assert len(gets) > 30
    for path in gets:
        rule = _rule("GET", path, settings)
        assert rule is None or rule.bucket != "write", path
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for r in list(contexts()) if contexts else [route]:
            methods = getattr(r, "methods", None) or set()
            dependant = getattr(r, "dependant", None)
            if "GET" in methods and dependant is not None:
                assert not dependant.body_params, r.path
                assert not methods & WRITE_METHODS, r.path  # a GET is never also a write
    write_paths = {r for r in app_routes(app) if r.split(" ", 1)[0] in WRITE_METHODS}
    assert write_paths and all(
        _rule(r.split(" ", 1)[0], r.split(" ", 1)[1], settings) is not None for r in write_paths
    )
