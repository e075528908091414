"""The web app: ``frontend/dist`` served at ``/`` as a single-page app.

Included last by the app factory, so every API route wins. Any other GET path that is not a
file of the build answers ``index.html`` (the app routes in the browser), except the API's own
prefixes, which keep their JSON 404. Hashed build assets are cached for a year; ``index.html``
is never cached, and carries a per-response nonce for the one inline ``<style>`` the waveform
library adds (a Content-Security-Policy without ``'unsafe-inline'``).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.convertors import Convertor, register_url_convertor

from studio.deps import ServicesDep
from studio.errors import NotFound
from studio.settings import Settings

# Module-level so tests can point it elsewhere (e.g. at a missing build).
DIST_DIR = Path(__file__).resolve().parents[2] / "frontend" / "dist"
# Never answered with the app: these keep the API's own answers (JSON 404, 405).
# (Swagger UI's files, /swagger-ui/..., are build files: studio/routes/docs.py.)
RESERVED_PREFIXES = ("v1", "docs", "openapi.json", "healthz", "readyz")
NONCE_PLACEHOLDER = "__CSP_NONCE__"
IMMUTABLE = "public, max-age=31536000, immutable"


class WebPath(Convertor[str]):
    """Any path outside the reserved API prefixes: the web route does not even match
    ``/v1/...``, so unknown API paths and methods answer exactly as without the web app."""

    regex = r"(?!(?:{})(?:/|$)).*".format(
        "|".join(p.replace(".", r"\.") for p in RESERVED_PREFIXES)
    )

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("webpath", WebPath())
router = APIRouter(include_in_schema=False)


def object_origins(settings: Settings) -> list[str]:
    """Origins of the signed object URLs the API hands out (audio the app fetches/plays)."""
    origins = []
    public = urlsplit(settings.public_url)
    if public.scheme and public.netloc:
        origins.append(f"{public.scheme}://{public.netloc}")
    if settings.object_store == "s3" and settings.s3_endpoint:
        origins.append(f"{'https' if settings.s3_secure else 'http'}://{settings.s3_endpoint}")
    return origins


def content_security_policy(settings: Settings, nonce: str) -> str:
    objects = " ".join(object_origins(settings))
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            f"style-src 'self' 'nonce-{nonce}'",
            "img-src 'self' data:",
            "font-src 'self'",
            # blob: — waveforms decode local files and downloaded audio from object URLs.
            f"connect-src 'self' blob: {objects}".rstrip(),
            f"media-src 'self' blob: {objects}".rstrip(),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _not_built() -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "code": "web_app_not_built",
                "message": (
                    "The web app is not built: frontend/dist is missing. Run `make run` "
                    "(it builds the app) or `cd frontend && npm ci && npm run build`."
                ),
                "detail": {},
            }
        },
        status_code=503,
        headers={"Cache-Control": "no-store"},
    )


def _index(dist: Path, settings: Settings) -> Response:
    nonce = secrets.token_urlsafe(16)
    html = (dist / "index.html").read_text(encoding="utf-8").replace(NONCE_PLACEHOLDER, nonce)
    return HTMLResponse(
        html,
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": content_security_policy(settings, nonce),
        },
    )


@router.api_route("/{path:webpath}", methods=["GET", "HEAD"])
def web_app(path: str, services: ServicesDep) -> Response:
    """A file of the build, or ``index.html`` for any other (non-API) path."""
    dist = DIST_DIR
    if not (dist / "index.html").is_file():
        return _not_built()
    root = dist.resolve()
    # Dotfiles (the build stamp) are not part of the app.
    if path and path != "index.html" and not any(p.startswith(".") for p in path.split("/")):
        candidate = (root / path).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            hashed = candidate.is_relative_to(root / "assets")
            return FileResponse(
                candidate, headers={"Cache-Control": IMMUTABLE if hashed else "no-cache"}
            )
        if path.startswith("assets/"):
            # A stale hashed name: HTML in its place would only confuse the browser.
            raise NotFound("No such file.", code="not_found")
    return _index(dist, services.settings)
