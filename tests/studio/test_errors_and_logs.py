"""One error body everywhere; JSON logs with a request id and without secrets."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from studio.logs import JsonFormatter
from studio.routes import web
from tests.studio.wallets import Wallet, sign_in


def _is_error_body(body: object) -> bool:
    return (
        isinstance(body, dict)
        and set(body) == {"error"}
        and set(body["error"]) == {"code", "message", "detail"}
    )


def test_every_failure_has_the_same_body(client: TestClient) -> None:
    cases = [
        client.get("/v1/nowhere"),
        client.post("/v1/healthz"),
        client.post("/v1/auth/siwe", json={"message": ""}),
        client.post(
            "/v1/auth/siwe", content=b"{not json", headers={"Content-Type": "application/json"}
        ),
        client.get("/v1/me"),
    ]
    assert [r.status_code for r in cases] == [404, 404, 422, 422, 401]
    for r in cases:
        assert _is_error_body(r.json()), r.text
    assert cases[2].json()["error"]["code"] == "validation_error"


def test_request_id_is_echoed_and_generated(client: TestClient) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"]
    assert len(generated) == 32 and generated != "bad id\n"


def test_logs_are_json_with_request_id_and_no_secrets(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    headers = sign_in(client, Wallet.new())
    token = headers["Authorization"].split()[1]
    caplog.clear()
    client.get("/v1/me?token=" + token, headers={**headers, "X-Request-ID": "req-42"})
    lines = [JsonFormatter().format(r) for r in caplog.records if r.name.startswith("studio")]
    access = [json.loads(line) for line in lines if '"msg": "request"' in line]
    assert access and access[-1]["request_id"] == "req-42"
    assert access[-1]["path"] == "/v1/me" and access[-1]["status"] == 200
    assert all(token not in line for line in lines)


def test_probes_are_logged_at_debug_and_everything_else_at_info(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="studio.access")
    for path in ("/healthz", "/readyz", "/openapi.json", "/v1/nope"):
        client.get(path)
    levels = {
        r.path: r.levelno  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "studio.access" and r.getMessage() == "request"
    }
    assert levels == {
        "/healthz": logging.DEBUG,
        "/readyz": logging.DEBUG,
        "/openapi.json": logging.INFO,
        "/v1/nope": logging.INFO,
    }


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    names = {b["name"]: b["ok"] for b in ready.json()["backends"]}
    assert names == {"database": True, "object_store": True}
    assert client.get("/openapi.json").json()["info"]["title"] == "Timbre"
    assert client.get("/docs").status_code == 200


def test_api_docs_answer_without_the_web_build(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The docs page never points at another site; without a build of the web app (where its
    Swagger UI files come from) the page still answers and only those files are missing."""
    monkeypatch.setattr(web, "DIST_DIR", tmp_path / "no-dist")
    r = client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '"/swagger-ui/swagger-ui-bundle.js"' in r.text and "/openapi.json" in r.text
    assert "http://" not in r.text and "https://" not in r.text
    missing = client.get("/swagger-ui/swagger-ui-bundle.js")
    assert missing.status_code == 503
    assert missing.json()["error"]["code"] == "web_app_not_built"


def test_config_is_public_and_hides_demo_keys_by_default(client: TestClient) -> None:
    body = client.get("/v1/config").json()
    assert body["chain_id"] == 31337 and body["token_decimals"] == 6
    assert body["demo_wallets"] == [] and body["contracts"] is None
