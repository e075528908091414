"""Pure-ASGI middleware (cheaper than BaseHTTPMiddleware on every request): a request id for
every request, echoed as X-Request-ID and attached to every log line, plus one access log line;
and the security headers of every response (docs/SECURITY.md).

Content-Security-Policy: the web app's ``index.html`` brings its own (studio/routes/web.py,
with a per-response style nonce). The interactive API docs (studio/routes/docs.py) get one that
admits Swagger UI's files from this origin and exactly the inline scripts of the page (by hash),
and no other site.
Every other response (JSON, build assets, audio) gets a policy that allows nothing at all."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from studio.logs import request_id_var

log = logging.getLogger("studio.access")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
CSP = b"content-security-policy"
# Nothing may load or run in the context of an API response or a build asset opened directly.
NONE_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Liveness and readiness probes (a load balancer's every few seconds) are logged at DEBUG: at
# INFO they would drown the log, and the line costs a third of a probe's CPU.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect")
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def docs_csp(html: bytes) -> bytes:
    """The policy of the docs page: Swagger UI's files from this origin, the page's own inline
    scripts by hash, the schema and "try it out" calls to this origin; no other site. Styles may
    be inline (Swagger UI injects them); scripts may not."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m).digest()).decode() + "'"
        for m in _INLINE_SCRIPT.findall(html)
    )
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {hashes}".rstrip(),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    ).encode()


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        # A client-supplied id is kept only if harmless (it ends up in logs).
        rid = supplied if _CLIENT_ID.match(supplied) else uuid.uuid4().hex
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = 500

        docs_page = scope["path"] in DOCS_PATHS
        held: Message | None = None
        body = b""

        def with_headers(message: Message, csp: bytes) -> Message:
            headers = list(message.get("headers", []))
            headers.append((b"x-request-id", rid.encode()))
            headers.extend(SECURITY_HEADERS)
            if not any(k.lower() == CSP for k, _ in headers):
                headers.append((CSP, csp))
            return {**message, "headers": headers}

        async def send_with_id(message: Message) -> None:
            nonlocal status, held, body
            if message["type"] == "http.response.start":
                status = message["status"]
                if docs_page:  # small HTML: its policy depends on its inline scripts
                    held = message
                    return
                message = with_headers(message, NONE_CSP)
            elif held is not None and message["type"] == "http.response.body":
                body += message.get("body", b"")
                if message.get("more_body", False):
                    return
                await send(with_headers(held, docs_csp(body)))
                held = None
                message = {"type": "http.response.body", "body": body}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            level = logging.DEBUG if scope["path"] in PROBE_PATHS else logging.INFO
            if log.isEnabledFor(level):
                log.log(
                    level,
                    "request",
                    extra={
                        "request_id": rid,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            request_id_var.reset(token)
