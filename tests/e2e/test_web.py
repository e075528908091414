"""The web app in a real browser, the whole flow with demo wallets: the creator trains a voice
and signs its terms; a fan accepts them, converts a vocal with live progress, A/Bs the result
and publishes it; the creator listens to it and approves it with a signature; a platform opens
and funds its channel in the console and its client streams the track with vouchers; the epoch
settles; creator and fan see their earnings and claim them; the console shows usage and the
timed withdrawal; the epoch verifies with the button; the creator retires the voice."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
import soundfile as sf
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect
from web3 import Web3

from contracts.deploy import connect
from contracts.eip712 import escrow_domain
from royalties.platform_meter import PlatformMeter
from studio.routes import web
from studio.settlement.epochs import settle_next
from tests.e2e.conftest import Studio
from tests.studio.test_settlement_world import World
from tests.studio.wallets import Wallet
from voice_model.roster import ROSTER, TEST_SENTENCES, TRAIN_SENTENCES, render

pytestmark = pytest.mark.slow
SR = 16_000
TRAIN_TIMEOUT_MS = 120_000
CONVERT_TIMEOUT_MS = 90_000
PRICE = 2000  # the creator's price per play below: $0.002


def _speech(speaker: str, texts: tuple[str, ...], out: Path, cache: Path) -> Path:
    voice = next(s for s in ROSTER if s.name == speaker)
    audio = np.concatenate([render(voice, t, sample_rate=SR, cache_dir=cache) for t in texts])
    sf.write(out, audio.astype(np.float32), SR, subtype="PCM_16")
    return out


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two reference recordings by one Debian voice and a fan vocal by another."""
    d = tmp_path_factory.mktemp("e2e-audio")
    cache = d / "cache"
    t = np.arange(int(6 * SR)) / SR
    chord = 0.08 * np.sin(2 * np.pi * np.outer((220.0, 277.18, 329.63), t)).sum(axis=0)
    sf.write(d / "backing.wav", chord.astype(np.float32), SR, subtype="PCM_16")
    return {
        "backing": d / "backing.wav",
        "ref1": _speech("awb", TRAIN_SENTENCES[0:5], d / "awb-reference-1.wav", cache),
        "ref2": _speech("awb", TRAIN_SENTENCES[5:10], d / "awb-reference-2.wav", cache),
        "vocal": _speech("slt", TEST_SENTENCES[0:2], d / "fan-vocal.wav", cache),
    }


class ConsoleWatch:
    """Console errors and uncaught exceptions of every page in the context."""

    def __init__(self, context: BrowserContext) -> None:
        self.errors: list[str] = []
        context.on("page", self.watch)
        for page in context.pages:
            self.watch(page)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(f"console: {msg.text} @ {msg.location.get('url')}")


def _sign_in(page: Page, who: str, screenshot: Path | None = None) -> None:
    page.get_by_role("link", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Demo wallets"))).to_be_visible()
    if screenshot is not None:
        page.screenshot(path=screenshot)
    page.get_by_role("button", name=f"Sign in as {who}").click()
    expect(page.locator(".account")).to_contain_text(who)
    expect(page.locator(".account")).to_contain_text("Demo wallet")


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()


UNLABELLED_CONTROLS = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter((el) => !el.closest('[hidden]') && el.type !== 'hidden')
  .filter((el) => {
    const named = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
      || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest('label')
      || (el.tagName === 'BUTTON' && el.textContent.trim());
    return !named;
  })
  .map((el) => el.outerHTML.slice(0, 120))"""


def _unlabelled(page: Page) -> list[str]:
    """Controls without an accessible name (label, aria-label(ledby) or button text)."""
    return list(page.evaluate(UNLABELLED_CONTROLS))


def _progress_at_100(page: Page, label: str) -> None:
    bar = page.get_by_role("progressbar", name=label)
    expect(bar).to_have_attribute("aria-valuenow", "100")


def test_browser_wallet_signs_in_through_eip1193(studio: Studio, browser: BrowserContext) -> None:
    """An injected wallet (window.ethereum) backed by a key held here: the app asks it for an
    account and a personal_sign over the EIP-4361 message, exactly as with MetaMask."""
    wallet = Account.create()
    calls: list[str] = []

    def request(method: str, params: list[Any]) -> Any:
        calls.append(method)
        if method in ("eth_requestAccounts", "eth_accounts"):
            return [wallet.address]
        if method == "eth_chainId":
            return hex(studio.settings.chain_id)
        if method == "personal_sign":
            data, address = params
            assert address.lower() == wallet.address.lower()
            return wallet.sign_message(encode_defunct(hexstr=data)).signature.to_0x_hex()
        raise ValueError(f"unsupported method {method}")

    browser.expose_function("__testWalletRequest", request)
    browser.add_init_script(
        "window.ethereum = { request: ({ method, params }) => "
        "window.__testWalletRequest(method, params ?? []), on() {}, removeListener() {} };"
    )
    console = ConsoleWatch(browser)
    page = browser.pages[0] if browser.pages else browser.new_page()
    console.watch(page)
    page.goto(studio.base_url + "/sign-in?next=/creator")
    expect(page.get_by_text("No browser wallet was detected")).to_have_count(0)
    page.get_by_role("button", name="Connect browser wallet").click()
    expect(page.get_by_role("button", name="Start as a creator")).to_be_visible()
    account = page.locator(".account")
    expect(account).to_contain_text("Signed in")
    expect(account).to_contain_text(wallet.address[:6])
    expect(account.get_by_text("Demo wallet")).to_have_count(0)
    assert "eth_requestAccounts" in calls and "personal_sign" in calls
    page.get_by_role("button", name="Start as a creator").click()
    expect(page.get_by_role("heading", name="1. Reference recordings")).to_be_visible()
    assert console.errors == []


def test_platform_console_with_a_browser_wallet(studio: Studio, browser: BrowserContext) -> None:
    """With an injected wallet the console's set-up steps are sent by the wallet itself
    (eth_sendTransaction) and the channel id is read from the receipt through the same
    provider. The wallet here is anvil's dev account 8 (unlocked: anvil signs for it)."""
    dev = studio.node.dev_accounts[8]
    w3 = Web3(Web3.HTTPProvider(studio.node.rpc_url))
    calls: list[str] = []

    def request(method: str, params: list[Any]) -> Any:
        calls.append(method)
        if method in ("eth_requestAccounts", "eth_accounts"):
            return [dev.address]
        if method == "personal_sign":
            data, _address = params
            return dev.sign_message(encode_defunct(hexstr=data)).signature.to_0x_hex()
        if method == "eth_sendTransaction":
            assert params[0]["from"].lower() == dev.address.lower()
        answer = w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in answer:
            raise ValueError(str(answer["error"]))
        return answer["result"]

    browser.expose_function("__testWalletRequest", request)
    browser.add_init_script(
        "window.ethereum = { request: ({ method, params }) => "
        "window.__testWalletRequest(method, params ?? []), on() {}, removeListener() {} };"
    )
    console = ConsoleWatch(browser)
    page = browser.pages[0] if browser.pages else browser.new_page()
    console.watch(page)
    page.set_default_timeout(15_000)
    page.goto(studio.base_url + "/sign-in?next=/platform")
    page.get_by_role("button", name="Connect browser wallet").click()
    page.get_by_label("Platform name").fill("Wallet Radio")
    page.get_by_role("button", name="Register platform").click()
    page.get_by_role("button", name="Open the escrow channel").click()
    expect(page.get_by_text(re.compile(r"Channel #\d+ is open"))).to_be_visible()
    page.get_by_label("Amount (US dollars)", exact=True).fill("2")
    page.get_by_role("button", name="Get test dollars (demo chain faucet)").click()
    expect(page.get_by_text("$2.00 of test dollars were minted")).to_be_visible()
    page.get_by_role("button", name="Deposit into the channel").click()
    expect(page.get_by_text("Deposited $2.00 into the channel.")).to_be_visible()
    expect(page.get_by_label("Channel balance")).to_contain_text("Balance$2.00 —")
    assert calls.count("eth_sendTransaction") == 3  # open, approve, deposit
    assert "eth_getTransactionReceipt" in calls
    assert _unlabelled(page) == []
    assert console.errors == []


def test_served_with_spa_fallback_caching_and_csp(studio: Studio) -> None:
    base = studio.base_url
    with httpx.Client(base_url=base, timeout=10) as http:
        index = http.get("/creator")
        assert index.status_code == 200
        assert index.headers["cache-control"] == "no-cache"
        csp = index.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "connect-src 'self' blob:" in csp
        nonce = re.search(r"'nonce-([^']+)'", csp)
        assert nonce and f'content="{nonce.group(1)}"' in index.text
        asset = re.search(r'src="(/assets/[^"]+\.js)"', index.text)
        assert asset
        js = http.get(asset.group(1))
        assert js.status_code == 200 and "immutable" in js.headers["cache-control"]
        assert http.get("/assets/missing-abc123.js").status_code == 404
        assert "<title>Timbre</title>" in http.get("/.timbre-stamp").text  # not the stamp file
        assert "<title>Timbre</title>" in http.get("/fan/../../pyproject.toml").text
        # The API keeps its own answers.
        missing = http.get("/v1/no-such-route")
        assert missing.status_code == 404 and missing.json()["error"]["code"]
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/openapi.json").json()["info"]["title"] == "Timbre"
        assert http.post("/v1/no-such-route").status_code == 404


def test_unbuilt_web_app_is_a_clear_503(studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "DIST_DIR", studio.settings.var_dir / "no-dist")
    r = httpx.get(studio.base_url + "/fan", timeout=10)
    assert r.status_code == 503
    error = r.json()["error"]
    assert error["code"] == "web_app_not_built" and "make run" in error["message"]
    assert httpx.get(studio.base_url + "/healthz", timeout=10).status_code == 200


class LiveWorld(World):
    """The settlement tests' money world, driving the live server over HTTP (sign-in messages
    name its real address instead of the test client's)."""

    def sign_in(self, name: str, *roles: str, wallet: Wallet | None = None) -> dict[str, str]:
        w = wallet or Wallet.new()
        base = str(self.client.base_url).rstrip("/")
        nonce = self.client.get("/v1/auth/nonce").json()["nonce"]
        message = w.siwe_message(nonce, domain=urlsplit(base).netloc, uri=base)
        body = {"message": message, "signature": w.sign(message)}
        r = self.client.post("/v1/auth/siwe", json=body)
        assert r.status_code == 200, r.text
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        for role in roles:
            assert self.client.post("/v1/me/roles", json={"role": role}, headers=headers).is_success
        self.wallets[name], self.headers[name] = w, headers
        return headers


def test_whole_flow(
    studio: Studio, browser: BrowserContext, audio: dict[str, Path], screenshots: Path
) -> None:
    console = ConsoleWatch(browser)
    page = browser.pages[0] if browser.pages else browser.new_page()
    console.watch(page)
    page.set_default_timeout(15_000)

    # --- public catalogue, empty ---------------------------------------------------------
    page.goto(studio.base_url + "/")
    expect(page.get_by_role("heading", name="Voice catalogue")).to_be_visible()
    expect(page.get_by_text("No voices are licensed yet")).to_be_visible()
    expect(page.get_by_role("link", name="Platform console")).to_be_visible()

    # --- creator: sign in, opt in, upload references ---------------------------------------
    _sign_in(page, "Demo creator", screenshots / "01-sign-in.png")
    page.get_by_role("link", name="Creator studio").click()
    page.get_by_role("button", name="Start as a creator").click()
    expect(page.get_by_role("heading", name="1. Reference recordings")).to_be_visible()

    page.get_by_label("Recordings (WAV, FLAC, OGG or MP3)", exact=True).set_input_files(
        [audio["ref1"], audio["ref2"]]
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    for name in ("awb-reference-1.wav", "awb-reference-2.wav"):
        _progress_at_100(page, name)
    expect(page.get_by_text(re.compile(r"^100 % · Uploaded"))).to_have_count(2)
    recordings = page.get_by_role("list", name="Your recordings")
    expect(recordings.get_by_role("checkbox")).to_have_count(2)
    for box in recordings.get_by_role("checkbox").all():
        expect(box).to_be_checked()
    expect(page.get_by_text("2 recordings selected.")).to_be_visible()

    # Listen to one of them (the signed object URL plays under the page's CSP).
    page.get_by_role("button", name="Listen to awb-reference-1.wav").click()
    expect(page.get_by_text("Playing awb-reference-1.wav")).to_be_visible()

    # --- train ------------------------------------------------------------------------------
    page.get_by_label("Voice name").fill("Awb Test Voice")
    expect(page.get_by_label("Training method")).to_have_value("baseline")
    page.get_by_role("button", name="Train voice").click()
    expect(page.get_by_text("“Awb Test Voice” is trained.")).to_be_visible(timeout=TRAIN_TIMEOUT_MS)
    _progress_at_100(page, "Training")
    page.screenshot(path=screenshots / "02-creator-trained.png", full_page=True)

    # --- terms: sliders always sum to 100 %, price in dollars → base units -----------------
    form = page.get_by_role("form", name="Terms for Awb Test Voice")
    expect(form.get_by_text("Total: 100 %")).to_be_visible()
    outputs = form.locator("output")
    # The share touched least recently gives way: first the platform fee, then the other.
    form.get_by_label("Creator share").fill("6000")
    expect(outputs).to_have_text(["60 %", "40 %", "0 %"])
    form.get_by_label("Fan share").fill("3000")
    expect(outputs).to_have_text(["60 %", "30 %", "10 %"])
    form.get_by_label("Platform share").fill("1500")
    expect(outputs).to_have_text(["55 %", "30 %", "15 %"])
    form.get_by_label("Creator share").fill("6000")
    expect(outputs).to_have_text(["60 %", "25 %", "15 %"])
    expect(form.get_by_text("Total: 100 %")).to_be_visible()
    price = form.get_by_label("Price per play (US dollars)")
    price.fill("0.0000001")
    expect(form.get_by_text("Use at most 6 decimal places")).to_be_visible()
    price.fill("0.002")
    expect(form.get_by_text("= 2000 base units")).to_be_visible()
    form.get_by_label("I approve each fan track before it can be published").check()
    form.get_by_role("button", name="Sign terms and register").click()
    expect(page.get_by_text("Terms version 1 signed and registered").first).to_be_visible()
    expect(page.locator("[data-voice-status=registered]")).to_contain_text(
        "Licensed — in the catalogue"
    )
    page.screenshot(path=screenshots / "03-creator-terms-registered.png", full_page=True)
    assert _unlabelled(page) == []
    _sign_out(page)

    # --- fan: catalogue → fan studio with the voice picked ---------------------------------
    _sign_in(page, "Demo fan")
    card = page.get_by_role("listitem").filter(has_text="Awb Test Voice")
    expect(card).to_contain_text("60 %")
    expect(card).to_contain_text("$0.002 (2000 base units)")
    expect(card).to_contain_text("Registered on-chain")
    expect(card).to_contain_text("Required for each track")
    page.screenshot(path=screenshots / "04-catalogue.png", full_page=True)
    card.get_by_role("link", name="Make a track with Awb Test Voice").click()
    page.get_by_role("button", name="Start as a fan").click()
    expect(page.get_by_role("heading", name="1. Your vocal")).to_be_visible()

    page.get_by_label("Vocal (WAV, FLAC, OGG or MP3)", exact=True).set_input_files(audio["vocal"])
    page.get_by_role("button", name="Upload vocal").click()
    _progress_at_100(page, "fan-vocal.wav")
    expect(page.locator(".track-slot .waveform[data-ready=true]")).to_have_count(1)
    page.get_by_label("Accompaniment (WAV, FLAC, OGG or MP3)", exact=True).set_input_files(
        audio["backing"]
    )
    page.get_by_role("button", name="Upload accompaniment").click()
    _progress_at_100(page, "backing.wav")
    expect(page.locator(".track-slot .waveform[data-ready=true]")).to_have_count(2)
    expect(page.get_by_text("Accompaniment: backing.wav")).to_be_visible()

    expect(page.get_by_role("radio", name=re.compile("Awb Test Voice"))).to_be_checked()
    expect(page.get_by_text("Accept the voice's terms.")).to_be_visible()
    expect(page.get_by_role("button", name="Convert", exact=True)).to_be_disabled()
    page.get_by_role("button", name="Accept terms v1 of Awb Test Voice").click()
    expect(page.get_by_text("You accepted terms v1 of Awb Test Voice.")).to_be_visible()

    key = page.get_by_label("Key (transpose)")
    key.focus()
    key.press("ArrowRight")
    key.press("ArrowRight")
    expect(page.get_by_text("+2 semitones")).to_be_visible()
    page.get_by_role("button", name="Convert", exact=True).click()
    expect(page.get_by_text("Converted with Awb Test Voice.")).to_be_visible(
        timeout=CONVERT_TIMEOUT_MS
    )
    _progress_at_100(page, "Conversion")
    ab = page.get_by_role("region", name="Compare original and converted")
    expect(ab).to_have_attribute("data-ready", "true")
    expect(ab.locator(".waveform[data-ready=true]")).to_have_count(2)
    # Aligned: one time scale, so the 5 s original draws narrower than the 6 s converted mix.
    boxes = [w.bounding_box() for w in ab.locator(".wave").all()]
    widths = [b["width"] for b in boxes if b is not None]
    assert widths[0] < widths[1] * 0.95, widths
    expect(ab.get_by_text("A — original")).to_be_visible()
    expect(ab.get_by_text("B — converted")).to_be_visible()
    expect(ab.get_by_role("radio", name="B: converted")).to_be_checked()
    ab.get_by_role("radio", name="A: original").check()
    expect(ab.get_by_role("button", name="Play A/B")).to_be_enabled()
    page.screenshot(path=screenshots / "05-fan-converted.png", full_page=True)
    ab.screenshot(path=screenshots / "05b-ab-player.png")
    assert _unlabelled(page) == []

    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=screenshots / "06-fan-mobile.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # --- fan publishes; the terms require the creator's approval ----------------------------
    page.get_by_label("Track title").fill("Awb sings my words")
    page.get_by_role("button", name="Publish track").click()
    waiting = page.get_by_text("“Awb sings my words”: Waiting for the creator's approval.")
    expect(waiting).to_be_visible()
    tracks = page.get_by_role("list", name="Your tracks")
    expect(tracks).to_contain_text("Awb sings my words")
    expect(tracks.locator("[data-track-status=pending_approval]")).to_have_count(1)

    # Its page: the fan may listen while it waits (nobody else may yet).
    tracks.get_by_role("link", name="Awb sings my words").click()
    expect(page.get_by_role("heading", name="Awb sings my words")).to_be_visible()
    expect(page.get_by_text("Waiting for the creator's approval")).to_be_visible()
    expect(page.locator(".track-player .waveform[data-ready=true]")).to_have_count(1)
    expect(page.get_by_role("button", name="Play “Awb sings my words”")).to_be_enabled()
    page.screenshot(path=screenshots / "06b-track-page.png", full_page=True)
    assert _unlabelled(page) == []
    _sign_out(page)

    # --- creator approves it with a wallet signature: registered on-chain -------------------
    _sign_in(page, "Demo creator")
    page.get_by_role("link", name="Creator studio").click()
    queue = page.get_by_role("list", name="Tracks waiting for your approval")
    expect(queue).to_contain_text("Awb sings my words")
    # The creator listens before approving: the fan track's audio in a player.
    expect(queue.locator(".track-player .waveform[data-ready=true]")).to_have_count(1)
    queue.get_by_role("button", name="Play “Awb sings my words”").click()
    expect(queue.get_by_role("button", name="Pause “Awb sings my words”")).to_be_visible()
    queue.get_by_role("button", name="Pause “Awb sings my words”").click()
    page.screenshot(path=screenshots / "07-creator-approvals.png", full_page=True)
    queue.get_by_role("button", name="Approve “Awb sings my words” and sign").click()
    expect(
        page.get_by_text("“Awb sings my words”: Published — registered on-chain.")
    ).to_be_visible()
    expect(queue).to_contain_text("No fan tracks are waiting for you.")

    _platform_streams_settles_and_verifies(studio, page, screenshots, "Awb sings my words")

    # --- the creator retires the voice: it leaves the catalogue, its track keeps its page --
    _sign_out(page)
    _sign_in(page, "Demo creator")
    page.get_by_role("link", name="Creator studio").click()
    page.get_by_role("button", name="Retire voice").click()
    page.get_by_role("button", name="Confirm: retire (no new tracks)").click()
    expect(page.get_by_text("“Awb Test Voice” is retired")).to_be_visible()
    expect(page.locator("[data-voice-status=retired]")).to_contain_text("Retired")
    page.get_by_role("link", name="Catalogue").click()
    expect(page.get_by_text("No voices are licensed yet")).to_be_visible()
    expect(page.get_by_role("list", name="Published tracks")).to_contain_text("Awb sings my words")
    assert console.errors == []


def _platform_streams_settles_and_verifies(
    studio: Studio, page: Page, screenshots: Path, track_title: str
) -> None:
    """The money half of the flow, the platform's part through its console; the platform's
    player server (vouchers over HTTP) and the settlement run are driven from here. Moves the
    chain's clock on by an epoch and a withdrawal delay."""
    w3 = Web3(Web3.HTTPProvider(studio.node.rpc_url))
    http = httpx.Client(base_url=studio.base_url, timeout=30)
    contracts = connect(w3, studio.deployment)
    world = LiveWorld(
        studio.node, cast(TestClient, http), studio.services, studio.deployment, contracts, w3
    )
    world.offset = max(0, studio.node.latest_timestamp() - int(time.time()))
    real_clock = studio.services.clock
    studio.services.clock = lambda: datetime.fromtimestamp(world.now(), UTC)
    try:
        # --- platform: register, open and fund the channel, create an API key -------------
        _sign_out(page)
        _sign_in(page, "Demo platform")
        page.get_by_role("link", name="Platform console").click()
        page.get_by_label("Platform name").fill("Demo Radio")
        page.get_by_role("button", name="Register platform").click()
        page.get_by_role("button", name="Open the escrow channel").click()
        expect(page.get_by_text(re.compile(r"Channel #\d+ is open"))).to_be_visible()
        page.get_by_label("Amount (US dollars)", exact=True).fill("5")
        expect(page.get_by_text("= 5000000 base units")).to_be_visible()
        page.get_by_role("button", name="Get test dollars (demo chain faucet)").click()
        expect(page.get_by_text("$5.00 of test dollars were minted")).to_be_visible()
        page.get_by_role("button", name="Deposit into the channel").click()
        expect(page.get_by_text("Deposited $5.00 into the channel.")).to_be_visible()
        channel = page.get_by_label("Channel balance")
        expect(channel).to_contain_text("$5.00")
        page.get_by_label("Key name").fill("Demo player")
        page.get_by_role("button", name="Create API key").click()
        expect(page.get_by_text("Copy it now: it is shown only once.")).to_be_visible()
        key = page.get_by_role("textbox", name="API key Demo player").input_value()
        keys = page.get_by_role("table", name="API keys")
        expect(keys).to_contain_text("Demo player")
        expect(keys).to_contain_text("Active")
        assert _unlabelled(page) == []

        # --- the platform's player server streams the track: one voucher per play ---------
        track = next(t for t in http.get("/v1/tracks").json() if t["title"] == track_title)
        channel_id = int(contracts.escrow.functions.channelCount().call())
        d, dev = studio.deployment, studio.node.dev_accounts[7]  # the "Demo platform" wallet
        meter = PlatformMeter(channel_id, bytes(dev.key), escrow_domain(d.chain_id, d.escrow))
        plays = []
        for _ in range(3):
            body = world.access_body(_Payer(meter), track, PRICE)
            r = http.post("/v1/access", json=body, headers={"X-API-Key": key})
            assert r.status_code == 201, r.text
            plays.append(r.json())
        stream = httpx.get(plays[0]["stream_url"], timeout=30)
        assert hashlib.sha256(stream.content).hexdigest() == track["content_sha256"]

        page.get_by_role("button", name="Refresh usage").click()
        usage = page.get_by_role("table", name="Usage per track and epoch")
        expect(usage).to_contain_text(track_title)
        expect(usage.locator("tbody tr td")).to_have_text(
            [track_title, str(plays[-1]["epoch"]), "3", "$0.006"]
        )
        expect(channel).to_contain_text("Pending liability$0.006")
        page.screenshot(path=screenshots / "11-platform-console.png", full_page=True)

        # --- the epoch settles: the escrow redeems the vouchers, the root is proposed --------
        epoch = plays[-1]["epoch"]
        world.warp_past_epoch(epoch)
        outcome = settle_next(studio.services)
        assert outcome.status == "settled" and outcome.problems == [], outcome
        world.warp_past_window()

        # --- creator and fan see their earnings and claim -----------------------------------
        token = contracts.token.functions
        for who, dev_index, amount, text in (
            ("Demo creator", 5, 3 * PRICE * 6000 // 10_000, "$0.0036"),
            ("Demo fan", 6, 3 * PRICE * 2500 // 10_000, "$0.0015"),
        ):
            _sign_out(page)
            _sign_in(page, who)
            page.get_by_role("link", name="Earnings").click()
            expect(page.get_by_role("table", name="Earnings per epoch")).to_contain_text(text)
            expect(
                page.get_by_role("table", name=re.compile("Earnings per track"))
            ).to_contain_text(track_title)
            if who == "Demo creator":
                page.screenshot(path=screenshots / "09-earnings-settled.png", full_page=True)
            holder = studio.node.dev_accounts[dev_index].address
            before = int(token.balanceOf(holder).call())
            page.get_by_role("button", name=f"Claim {text}").click()
            expect(page.get_by_text("Claimed: the tokens are on their way")).to_be_visible()
            expect(page.get_by_role("button", name="Nothing to claim")).to_be_disabled()
            assert int(token.balanceOf(holder).call()) - before == amount

        # --- anyone verifies the epoch in the browser ---------------------------------------
        page.get_by_role("link", name="Epochs").click()
        rows = page.get_by_role("table", name="Settled epochs, newest first")
        expect(rows.get_by_role("link", name="Download")).to_have_count(1)
        page.get_by_role("button", name=f"Verify epoch {epoch}").click()
        expect(page.get_by_role("heading", name=f"Epoch {epoch}: verified")).to_be_visible()
        checks = page.get_by_role("list", name=f"Checks of epoch {epoch}")
        expect(checks.locator("[data-check=passed]")).to_have_count(8)
        page.screenshot(path=screenshots / "10-epochs-verified.png", full_page=True)
        assert _unlabelled(page) == []

        # --- the platform console: usage settled, then the timed withdrawal -----------------
        _sign_out(page)
        _sign_in(page, "Demo platform")
        page.get_by_role("link", name="Platform console").click()
        channel = page.get_by_label("Channel balance")
        expect(channel).to_contain_text("Pending liability$0.00 —")
        expect(channel).to_contain_text("Redeemed on-chain$0.006")
        page.get_by_label("Withdrawal amount (US dollars)").fill("1")
        page.get_by_role("button", name="Request withdrawal").click()
        expect(page.get_by_text("Withdrawal of $1.00 requested.")).to_be_visible()
        expect(page.get_by_role("timer")).to_contain_text(
            re.compile(r"Ready to execute in (1 h 0 min 0 s|59 min)")
        )
        expect(page.get_by_role("button", name="Execute withdrawal")).to_be_disabled()
        page.screenshot(path=screenshots / "12-platform-withdrawal.png", full_page=True)
        world.warp(studio.deployment.withdrawal_delay_s + 1)
        page.get_by_role("button", name="Refresh usage").click()
        expect(page.get_by_role("timer")).to_contain_text("The delay has passed")
        before = int(token.balanceOf(dev.address).call())
        page.get_by_role("button", name="Execute withdrawal").click()
        expect(page.get_by_text("Withdrawal executed")).to_be_visible()
        assert int(token.balanceOf(dev.address).call()) - before == 1_000_000
        expect(channel).to_contain_text("Balance$3.994 —")  # 5 - 0.006 redeemed - 1 withdrawn
    finally:
        studio.services.clock = real_clock
        http.close()


class _Payer:
    """What ``World.access_body`` needs of a platform: its voucher meter."""

    def __init__(self, meter: PlatformMeter) -> None:
        self.meter = meter
