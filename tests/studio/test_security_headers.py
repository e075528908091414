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


EXPECTED_TYPES = {"script": "javascript", "stylesheet": "text/css", "icon": "image/png"}


def _docs_files(html: str) -> list[tuple[str, str]]:
    """(kind, URL) of every script, stylesheet and icon the page references."""
    files = [("script", src) for src in re.findall(r"<script[^>]+src=\"([^\"]+)\"", html)]
    for tag in re.findall(r"<link[^>]*>", html):
        rel = re.search(r'rel="([^"]+)"', tag)
        href = re.search(r'href="([^"]+)"', tag)
        assert rel is not None and href is not None, tag
        kind = "stylesheet" if rel.group(1) == "stylesheet" else "icon"
        assert kind == "stylesheet" or "icon" in rel.group(1), tag
        files.append((kind, href.group(1)))
    return files


@pytest.mark.parametrize("path", ["/docs", "/docs/oauth2-redirect"])
def test_api_docs_policy_admits_exactly_what_the_page_loads(
    client: TestClient, built: str, path: str
) -> None:
    """The docs page loads Swagger UI from this service (the copy the web app's build puts in
    frontend/dist/swagger-ui/), so it works with no internet: every file it references is a
    same-origin path that is really served, and the policy names no other site. Its inline
    scripts are admitted by hash, so any other inline script stays blocked."""
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert_common(r.headers)
    csp = directives(r.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"] and csp["form-action"] == ["'self'"]
    script_src = csp["script-src"]
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    inline = _inline_scripts(r.text)
    assert inline
    for code in inline:
        digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src
    assert script_src == ["'self'"] + [w for w in script_src if w.startswith("'sha256-")]
    assert len(script_src) == 1 + len(inline)
    assert csp["style-src"] == ["'self'", "'unsafe-inline'"]
    assert csp["img-src"] == ["'self'", "data:"]
    # The schema and "try it out" are same-origin calls.
    assert csp["connect-src"] == ["'self'"]
    # No other origin anywhere in the policy.
    assert not re.search(r"https?:|//|\*", r.headers["content-security-policy"])
    files = _docs_files(r.text)
    if path == "/docs":
        assert {kind for kind, _ in files} == {"script", "stylesheet", "icon"}, files
        assert "/openapi.json" in r.text
    for kind, url in files:
        # Same-origin paths the policy's 'self' covers, served by this service.
        assert url.startswith("/") and not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert EXPECTED_TYPES[kind] in asset.headers["content-type"], (url, asset.headers)
        assert asset.content, url
        assert not asset.headers["content-type"].startswith("text/html"), url
    assert client.get("/openapi.json").status_code == 200


def test_an_injected_inline_script_would_not_match(client: TestClient) -> None:
    csp = client.get("/docs").headers["content-security-policy"]
    evil = base64.b64encode(hashlib.sha256(b"alert(1)").digest()).decode()
    assert evil not in csp
