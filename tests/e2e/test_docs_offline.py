"""The interactive API docs work with no internet: /docs opened in headless Chromium with every
request to another origin aborted still renders the whole API with Swagger UI (served by the
studio from the web app's build, studio/routes/docs.py), under its Content-Security-Policy,
with no console error."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Route, expect

from tests.e2e.conftest import Studio
from tests.e2e.test_web import ConsoleWatch


def test_docs_render_the_api_with_no_other_origin(studio: Studio, browser: BrowserContext) -> None:
    origin = studio.base_url.rstrip("/")
    elsewhere: list[str] = []

    def offline(route: Route) -> None:
        url = route.request.url
        if url == origin or url.startswith(origin + "/"):
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort("internetdisconnected")

    browser.route("**/*", offline)
    console = ConsoleWatch(browser)
    page = browser.new_page()
    loaded: list[str] = []
    page.on("response", lambda r: loaded.append(f"{r.status} {r.url}"))

    response = page.goto(f"{origin}/docs")
    assert response is not None and response.ok
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Timbre", timeout=30_000)
    access = page.locator(".opblock-summary-path[data-path='/v1/access']")
    expect(access.first).to_be_visible()
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    # Swagger UI's own files came from the studio (the page would be blank otherwise).
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"200 {origin}/swagger-ui/{name}" in loaded, loaded
    assert f"200 {origin}/openapi.json" in loaded, loaded
    assert not elsewhere, f"the docs page asked another site: {elsewhere}"
    assert not console.errors, console.errors
