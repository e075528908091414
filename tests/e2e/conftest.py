"""Browser end-to-end fixtures: a local chain with the contracts, the studio as a real HTTP
server (uvicorn in a thread) serving the built web app, and headless Debian Chromium driven by
Playwright (a browser download is impossible here, so Playwright launches /usr/bin/chromium)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import BrowserContext, Playwright, sync_playwright
from pydantic import SecretStr
from web3 import Web3

from contracts.anvil import AnvilNode
from contracts.deploy import Deployment, deploy_all
from studio.app import create_app
from studio.db.migrate import upgrade
from studio.local_chain import dev_roles
from studio.routes.web import DIST_DIR
from studio.services import Services
from studio.settings import Settings

CHROMIUM = Path(os.environ.get("TIMBRE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TEST_SECRET = "e2e-secret-key-0123456789abcdef0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Studio:
    base_url: str
    settings: Settings
    node: AnvilNode
    deployment: Deployment
    services: Services


@contextmanager
def serve_studio(var: Path) -> Iterator[Studio]:
    """The studio on a free port with ``var`` as its var/, anvil + deployed contracts, 3 demo
    wallets and the baseline training method (seconds, not minutes)."""
    if not (DIST_DIR / "index.html").is_file():
        pytest.fail("frontend/dist is missing: run `make setup` (it builds the web app)")
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium)")
    with AnvilNode() as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        deployment = deploy_all(w3, node.dev_accounts[0], **dev_roles(node, epoch_length_s=3600))
        deployment_file = var / "deployment.json"
        deployment.save(deployment_file)
        port = _free_port()
        settings = Settings(
            environment="test",
            var_dir=var,
            port=port,
            public_url=f"http://127.0.0.1:{port}",
            secret_key=SecretStr(TEST_SECRET),
            chain_rpc_url=node.rpc_url,
            chain_id=node.chain_id,
            deployment_file=deployment_file,
            relayer_key=SecretStr("0x" + bytes(node.dev_accounts[1].key).hex()),
            demo_wallets=3,
            train_method="baseline",
            embedded_workers=1,
            log_level="WARNING",
        )
        upgrade(settings.resolved_database_url)
        app = create_app(settings)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
        )
        thread = threading.Thread(target=server.run, name="e2e-uvicorn", daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the studio did not start")
            time.sleep(0.05)
        try:
            yield Studio(settings.public_url, settings, node, deployment, app.state.services)
        finally:
            server.should_exit = True
            thread.join(timeout=30)


@pytest.fixture(scope="session")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    """The studio of the browser tests (one per session, fresh var/): see serve_studio."""
    with serve_studio(tmp_path_factory.mktemp("e2e-var")) as s:
        yield s


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture
def browser(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    """Headless Chromium with a fresh profile (user-data-dir) per test."""
    profile = tmp_path / "chromium-profile"
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        headless=True,
        viewport={"width": 1280, "height": 900},
    )
    try:
        yield context
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: TIMBRE_E2E_SCREENSHOTS to keep them, else the test's tmp dir."""
    target = Path(os.environ.get("TIMBRE_E2E_SCREENSHOTS", tmp_path / "screenshots"))
    target.mkdir(parents=True, exist_ok=True)
    return target
