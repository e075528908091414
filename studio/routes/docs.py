"""The interactive API docs (Swagger UI) at ``/docs``, served entirely by this service.

FastAPI's own docs pages load Swagger UI from a CDN, so they are switched off (the app is
created with ``docs_url=None, redoc_url=None``) and this page loads the copy of the pinned npm
package ``swagger-ui-dist`` that the web app's build puts in ``frontend/dist/swagger-ui/``
(frontend/scripts/copy-docs-assets.mjs), served by the web route like any other build file.
Without a build the page still answers; only the assets it loads are missing. Its
Content-Security-Policy is set by studio/middleware.py (``docs_csp``): same-origin files and
exactly the page's own inline scripts. There is no ReDoc page (no offline bundle of it)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
# Where the build puts Swagger UI (a path of frontend/dist, outside the reserved API prefixes).
ASSETS = "/swagger-ui"
SWAGGER_JS = f"{ASSETS}/swagger-ui-bundle.js"
SWAGGER_CSS = f"{ASSETS}/swagger-ui.css"
SWAGGER_FAVICON = f"{ASSETS}/favicon-32x32.png"

router = APIRouter(include_in_schema=False)


@router.get(DOCS_URL)
def swagger_ui(request: Request) -> HTMLResponse:
    app = request.app
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return get_swagger_ui_html(
        openapi_url=root + app.openapi_url,
        title=f"{app.title} - Swagger UI",
        swagger_js_url=root + SWAGGER_JS,
        swagger_css_url=root + SWAGGER_CSS,
        swagger_favicon_url=root + SWAGGER_FAVICON,
        oauth2_redirect_url=root + OAUTH2_REDIRECT_URL,
        init_oauth=app.swagger_ui_init_oauth,
        swagger_ui_parameters=app.swagger_ui_parameters,
    )


@router.get(OAUTH2_REDIRECT_URL)
def swagger_ui_oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()
