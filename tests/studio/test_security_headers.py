"""Security headers: the web app's pages and assets, the API docs and the API's own answers.

The Content-Security-Policy has to fit the built app in frontend/dist (e2e tests fail on any
console error, so a policy that blocked something the app needs would show there too); these
tests check the policy itself and what the build asks of it."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from studio.middleware import NONE_CSP
from studio.routes.web import DIST_DIR

COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def directives(csp: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def assert_common(headers: object) -> None:
    for name, value in COMMON.items():
        assert headers[name] == value, (name, headers)  # type: ignore[index]


@pytest.fixture(scope="module")
def built() -> str:
    index = DIST_DIR / "index.html"
    if not index.is_file():
        pytest.fail("frontend/dist is missing: run `make setup` (it builds the web app)")
    return index.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", ["/", "/voices", "/tracks/some/deep/link", "/index.html"])
def test_app_pages_carry_a_policy_that_fits_the_app(
    client: TestClient, built: str, path: str
) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert_common(r.headers)
    csp = directives(r.headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]  # no inline or eval'd script can run
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    # The one inline <style> the waveform library adds carries this response's nonce.
    nonce = re.search(r'name="csp-nonce" content="([^"]+)"', r.text)
    assert nonce is not None and "__CSP_NONCE__" not in r.text
    assert f"'nonce-{nonce.group(1)}'" in csp["style-src"]
    assert "'unsafe-inline'" not in csp["style-src"]
    # Waveforms and playback read audio from blob: URLs and the API's signed object URLs.
    assert "blob:" in csp["media-src"] and "blob:" in csp["connect-src"]
    assert "http://testserver" in csp["media-src"]
    # Every nonce is fresh.
    again = client.get(path).headers["content-security-policy"]
    assert again != r.headers["content-security-policy"]


def test_the_build_needs_nothing_the_policy_refuses(built: str) -> None:
    """Scripts of the build are same-origin files, none inline; no eval (script-src has no
    'unsafe-eval'). The wallet reaches the chain through the injected provider or the API
    (connect-src is 'self', blob: and the object store)."""
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", built), "inline <script> in index.html"
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', built)
    assert sources and all(s.startswith("/assets/") or s == "data:," for s in sources), sources
    bundles = list((DIST_DIR / "assets").glob("*.js"))
    assert bundles
    for js in bundles:
        code = js.read_text(encoding="utf-8", errors="replace")
        assert "new Function(" not in code and not re.search(r"\beval\(", code), js.name


def test_build_assets(client: TestClient, built: str) -> None:
    asset = re.search(r'src="(/assets/[^"]+\.js)"', built)
    assert asset is not None
    r = client.get(asset.group(1))
    assert r.status_code == 200
    assert_common(r.headers)
    assert r.headers["content-security-policy"] == NONE_CSP.decode()
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in r.headers["content-type"]


@pytest.mark.parametrize(
    "path",
    ["/healthz", "/v1/config", "/v1/me", "/v1/nope", "/openapi.json", "/v1/uploads/not-a-uuid"],
)
def test_api_answers_allow_nothing(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert_common(r.headers)
    assert r.headers["content-security-policy"] == NONE_CSP.decode()
    assert "set-cookie" not in r.headers


def test_limit_answers_carry_the_headers_too(make_client: Callable[..., TestClient]) -> None:
    c = make_client(max_body_bytes=64)
    r = c.post("/v1/auth/siwe", content=b"x" * 100, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert_common(r.headers)
    assert r.headers["content-security-policy"] == NONE_CSP.decode()


def _inline_scripts(html: str) -> list[str]:
    return re.findall(r"<script>(.*?)</script>", html, re.S)


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_api_docs_policy_admits_exactly_what_the_page_loads(client: TestClient, path: str) -> None:
    """FastAPI's docs load Swagger UI / ReDoc from cdn.jsdelivr.net (the browser needs that
    site; /openapi.json works offline). Their inline scripts are admitted by hash, so any
    other inline script stays blocked."""
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert_common(r.headers)
    csp = directives(r.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    script_src = csp["script-src"]
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    for code in _inline_scripts(r.text):
        digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src
    for src in re.findall(r'<script[^>]+src="([^"]+)"', r.text):
        assert any(src.startswith(origin) for origin in script_src if "://" in origin), src
    for href in re.findall(r'<link[^>]+rel="stylesheet"[^>]*href="([^"]+)"', r.text) + re.findall(
        r'<link[^>]+href="([^"]+)"[^>]*rel="stylesheet"', r.text
    ):
        assert any(href.startswith(o) for o in csp["style-src"] if "://" in o), href
    # The schema and "try it out" are same-origin calls.
    assert csp["connect-src"] == ["'self'"]
    assert "/openapi.json" in r.text or path == "/docs/oauth2-redirect"
    assert client.get("/openapi.json").status_code == 200


def test_an_injected_inline_script_would_not_match(client: TestClient) -> None:
    csp = client.get("/docs").headers["content-security-policy"]
    evil = base64.b64encode(hashlib.sha256(b"alert(1)").digest()).decode()
    assert evil not in csp
