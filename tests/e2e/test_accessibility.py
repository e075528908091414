"""Accessibility and small screens, measured in headless Chromium on every page of the web app,
each seen by the demo wallet whose role it serves (a studio of its own with a registered voice,
a fan track waiting for approval and a platform with a funded channel and an API key):

- text contrast (WCAG 2.x relative luminance against the effective background: the element's
  and its ancestors' backgrounds composited up to the first opaque one) is at least 4.5:1, or
  3:1 for large text (≥ 24px, or ≥ 18.66px bold);
- every control has an accessible name (Chromium's own accessibility tree), pictures carry an
  alternative or are hidden from assistive technology, headings start at h1 and skip no level,
  <html> has a lang;
- the Tab key reaches every interactive element in document order, and focus is visible (the
  outline or box shadow of a focused element differs from its unfocused look); signing in with
  a demo wallet and reaching a studio page works with the keyboard alone;
- at 375 by 740 pixels no page scrolls sideways and the navigation stays on screen and usable."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import numpy as np
import pytest
import soundfile as sf
from eth_account import Account
from fastapi.testclient import TestClient
from playwright.sync_api import BrowserContext, Page, Playwright, expect
from web3 import Web3

from contracts.deploy import connect
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, Studio, serve_studio
from tests.e2e.test_web import ConsoleWatch, LiveWorld
from tests.studio.wallets import Wallet

SR = 16_000
MOBILE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class Seeded:
    studio: Studio
    voice_name: str
    track_id: str


def _wav_bytes(seconds: float = 2.0) -> bytes:
    t = np.arange(int(seconds * SR)) / SR
    tone = 0.2 * np.sin(2 * np.pi * 220.0 * t) * np.minimum(1.0, 4 * t)
    buf = io.BytesIO()
    sf.write(buf, tone.astype(np.float32), SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A studio of its own (the whole-flow test expects an empty one), seeded through the API:
    the demo creator's voice with signed terms (approval required), a track of the demo fan
    waiting for approval, and the demo platform with a funded channel and an API key."""
    with serve_studio(tmp_path_factory.mktemp("a11y-var")) as studio:
        w3 = Web3(Web3.HTTPProvider(studio.node.rpc_url))
        http = httpx.Client(base_url=studio.base_url, timeout=30)
        world = LiveWorld(
            studio.node,
            cast(TestClient, http),
            studio.services,
            studio.deployment,
            connect(w3, studio.deployment),
            w3,
        )
        world.offset = max(0, studio.node.latest_timestamp() - int(time.time()))
        demo = {d["label"]: d for d in http.get("/v1/config").json()["demo_wallets"]}

        def wallet(label: str) -> Wallet:
            return Wallet(Account.from_key(demo[label]["private_key"]))

        world.sign_in("creator", "creator", wallet=wallet("Demo creator"))
        voice_id = world.voice("creator", approval=True)
        world.sign_in("fan", "fan", wallet=wallet("Demo fan"))
        job_id = world.conversion("fan", voice_id, data=_wav_bytes())
        r = http.post(
            "/v1/tracks",
            json={"job_id": job_id, "title": "Tone for the ears"},
            headers=world.headers["fan"],
        )
        assert r.status_code == 201, r.text
        track_id = r.json()["id"]
        platform_dev = [a.address for a in studio.node.dev_accounts].index(
            demo["Demo platform"]["address"]
        )
        world.platform("Demo platform", platform_dev, 5_000_000)
        voice = http.get(f"/v1/voices/{voice_id}").json()
        http.close()
        yield Seeded(studio, voice["name"], track_id)


# (name, path, demo wallet or None, text that shows the page is there)
PAGES: list[tuple[str, str, str | None, str]] = [
    ("sign-in", "/sign-in", None, "Your wallet"),
    ("catalogue", "/", None, "Published tracks"),
    ("creator studio", "/creator", "Demo creator", "4. Fan tracks waiting for your approval"),
    ("fan studio", "/fan", "Demo fan", "Your tracks"),
    ("earnings", "/earnings", "Demo fan", "Per track"),
    ("epochs", "/epochs", "Demo fan", "Settlement epochs"),
    ("platform console", "/platform", "Demo platform", "API keys"),
    ("track page", "/track?id={track}", "Demo fan", "On-chain registration"),
    ("track link to nothing", "/track?id=nothing", "Demo fan", "This link names no track."),
    ("sign-in when signed in", "/sign-in", "Demo fan", "Your wallet"),
    ("not found", "/no-such-page", None, "Page not found"),
]

READY = """() => !document.querySelector('[aria-busy="true"]')
  && !/Loading/.test(document.querySelector('main')?.innerText ?? 'Loading')
  && [...document.querySelectorAll('.waveform')].every((w) => w.dataset.ready === 'true')"""

# Resolves once the page has not changed for 300 ms (late parts of a page have arrived).
SETTLED = """() => new Promise((resolve) => {
  let timer = setTimeout(done, 300);
  const watch = new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(done, 300); });
  const give_up = setTimeout(done, 5000);
  function done() { watch.disconnect(); clearTimeout(give_up); resolve(); }
  const all = { subtree: true, childList: true, attributes: true, characterData: true };
  watch.observe(document.body, all);
})"""


def _sign_in(page: Page, base: str, who: str | None) -> None:
    """Signs in as the demo wallet ``who`` (or out, for None) through the sign-in page."""
    page.goto(base + "/sign-in")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    if who is None:
        if page.get_by_role("button", name="Sign out").count():
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
        return
    page.get_by_role("button", name=f"Sign in as {who}", exact=True).click()
    expect(page.locator(".account")).to_contain_text(who)


def _visit(page: Page, seeded: Seeded, path: str, marker: str) -> None:
    page.goto(seeded.studio.base_url + path.format(track=seeded.track_id))
    expect(page.locator("main").get_by_text(marker, exact=True).first).to_be_visible()
    page.wait_for_function(READY, timeout=15_000)
    page.evaluate(SETTLED)


def _report(problems: dict[str, list[str]]) -> str:
    return "\n".join(f"{page}: {p}" for page, found in problems.items() for p in found)


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    console = ConsoleWatch(browser)
    p = browser.pages[0] if browser.pages else browser.new_page()
    console.watch(p)
    p.set_default_timeout(15_000)
    yield p
    assert console.errors == []


# --- contrast ---------------------------------------------------------------------------------

# Colour arithmetic in the page (WCAG 2.x relative luminance, alpha compositing).
COLOUR = """
  const parse = (c) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c);
    if (!m) return null;
    const p = m[1].split(/[\\s,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat(1);
  };
  const background = (el) => {
    const layers = [];
    let unknown = null;
    for (let e = el; e; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.backgroundImage !== 'none') unknown = e;
      const bg = parse(cs.backgroundColor);
      if (bg && bg[3] > 0) { layers.push(bg); if (bg[3] >= 1) break; }
    }
    let colour = [255, 255, 255, 1];
    for (const layer of layers.reverse()) colour = over(layer, colour);
    return [colour, unknown];
  };
  const lum = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
"""

CONTRAST = (
    """() => {
"""
    + COLOUR
    + """
  const opacity = (el) => {
    let o = 1;
    for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
    return o;
  };
  const describe = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) {
      let s = e.tagName.toLowerCase();
      if (e.id) s += '#' + e.id;
      const cls = typeof e.className === 'string' ? e.className.trim() : '';
      if (cls) s += '.' + cls.split(/\\s+/).join('.');
      parts.unshift(s);
    }
    return parts.join(' > ');
  };
  const shown = (el) => {
    if (!el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) return false;
    const r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1 && r.right > 0 && r.bottom > 0;
  };
  const elements = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.textContent.trim() && n.parentElement) elements.add(n.parentElement);
  }
  document.querySelectorAll('input:not([type=hidden]):not([type=range]):not([type=checkbox])'
    + ':not([type=radio]), select, textarea').forEach((el) => elements.add(el));
  const problems = [];
  for (const el of elements) {
    if (['SCRIPT', 'STYLE', 'OPTION', 'TITLE', 'NOSCRIPT'].includes(el.tagName)) continue;
    if (el.closest(':disabled, [aria-disabled="true"]')) continue; // WCAG: inactive controls
    if (!shown(el)) continue;
    const cs = getComputedStyle(el);
    const svg = el instanceof SVGElement;
    let fg = parse(svg ? cs.fill : cs.color);
    if (!fg) { problems.push(`${describe(el)}: unreadable colour ${cs.color}`); continue; }
    const [bg, unknown] = background(el);
    if (unknown) {
      problems.push(`${describe(el)}: text over a background image (${describe(unknown)})`);
      continue;
    }
    fg = over([fg[0], fg[1], fg[2], fg[3] * opacity(el)], bg);
    const size = parseFloat(cs.fontSize);
    const bold = Number(cs.fontWeight) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    const need = large ? 3 : 4.5;
    const got = ratio(fg, bg);
    if (got < need) {
      const text = (el.value || el.textContent).trim().slice(0, 40);
      problems.push(`${describe(el)} "${text}": ${got.toFixed(2)}:1 < ${need}:1 `
        + `(${cs.color} on rgb(${bg.slice(0, 3).map(Math.round).join(', ')}))`);
    }
  }
  return problems;
}"""
)


# --- names, pictures, headings, language ------------------------------------------------------

NAMED_ROLES = {
    "button",
    "checkbox",
    "combobox",
    "link",
    "listbox",
    "radio",
    "searchbox",
    "slider",
    "spinbutton",
    "switch",
    "textbox",
    "image",
    "img",
    "canvas",
    "progressbar",
    "meter",
}

STRUCTURE = """() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push('<html> has no lang');
  const hidden = (el) => !el.checkVisibility() || el.closest('[aria-hidden="true"]');
  for (const img of document.querySelectorAll('img')) {
    if (!img.hasAttribute('alt') && !hidden(img)) problems.push(`img without alt: ${img.src}`);
  }
  for (const pic of document.querySelectorAll('canvas, svg')) {
    if (hidden(pic) || pic.closest('svg') !== pic && pic.tagName === 'svg') continue;
    const role = pic.getAttribute('role');
    if (role === 'presentation' || role === 'none') continue;
    const labelled = pic.getAttribute('aria-label') || pic.getAttribute('aria-labelledby')
      || pic.querySelector(':scope > title')?.textContent.trim()
      || pic.closest('[role=slider][aria-labelledby], [role=img][aria-label], figure');
    if (!labelled) problems.push(`${pic.tagName} without alt: ${pic.outerHTML.slice(0, 90)}`);
  }
  let last = 0;
  for (const hd of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
    if (hidden(hd)) continue;
    const level = Number(hd.tagName[1]);
    if (!last && level !== 1) problems.push(`first heading is ${hd.tagName}: ${hd.textContent}`);
    if (last && level > last + 1) problems.push(`h${last} → ${hd.tagName}: ${hd.textContent}`);
    last = level;
  }
  if (last === 0) problems.push('no heading');
  return problems;
}"""


def _unnamed(page: Page) -> list[str]:
    """Nodes of Chromium's accessibility tree with a role that needs a name and no name."""
    cdp = page.context.new_cdp_session(page)
    try:
        nodes: list[dict[str, Any]] = cdp.send("Accessibility.getFullAXTree")["nodes"]
        out = []
        for node in nodes:
            role = str(node.get("role", {}).get("value", ""))
            name = str(node.get("name", {}).get("value", "")).strip()
            if node.get("ignored") or role.lower() not in NAMED_ROLES or name:
                continue
            dom = cdp.send("DOM.describeNode", {"backendNodeId": node["backendDOMNodeId"]})
            attrs = dom["node"].get("attributes", [])
            out.append(f"{role} <{dom['node']['nodeName'].lower()} {' '.join(attrs)}>")
        return out
    finally:
        cdp.detach()


# --- keyboard ---------------------------------------------------------------------------------

FOCUSABLE = """() => {
  const all = [...document.querySelectorAll(
    'a[href], button, input, select, textarea, summary, audio[controls], [tabindex]')]
    .filter((el) => el.tabIndex >= 0 && !el.disabled && el.type !== 'hidden'
      && !el.closest('[inert], [hidden]') && el.checkVisibility({ visibilityProperty: true }));
  const seenRadio = new Set();
  const expected = [];
  all.forEach((el, i) => {
    el.dataset.a11yOrder = String(i);
    if (el.type === 'radio' && el.name) {
      // a radio group is one tab stop: its checked radio, else its first
      const group = all.filter((r) => r.type === 'radio' && r.name === el.name);
      const stop = group.find((r) => r.checked) ?? group[0];
      if (stop !== el || seenRadio.has(el.name)) return;
      seenRadio.add(el.name);
    }
    expected.push(i);
  });
  const positive = [...document.querySelectorAll('[tabindex]')].filter((el) => el.tabIndex > 0);
  window.__a11yLook = {};
  return { expected, positive: positive.map((el) => el.outerHTML.slice(0, 80)) };
}"""

FOCUSED = (
    """() => {
"""
    + COLOUR
    + """
  const el = document.activeElement;
  if (!el || el === document.body || el.dataset.a11yOrder === undefined) {
    return el && el !== document.body ? { order: -1, what: el.outerHTML.slice(0, 80) } : null;
  }
  const cs = getComputedStyle(el);
  const look = `${cs.outlineStyle} ${cs.outlineWidth} ${cs.outlineColor} | ${cs.boxShadow}`;
  window.__a11yLook[el.dataset.a11yOrder] = look;
  const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 1
    && !/rgba\\(\\d+, \\d+, \\d+, 0\\)|transparent/.test(cs.outlineColor);
  // An outline outside the element is seen against what lies around it (WCAG 1.4.11: 3:1).
  const around = parseFloat(cs.outlineOffset) < 0 ? el : el.parentElement;
  const ring = outline ? ratio(over(parse(cs.outlineColor), background(around)[0]),
                               background(around)[0]) : null;
  // <audio controls>: focus is on the browser's own buttons inside, which draw their ring
  const native = el.tagName === 'AUDIO';
  if (native) delete window.__a11yLook[el.dataset.a11yOrder];
  return { order: Number(el.dataset.a11yOrder), what: el.outerHTML.slice(0, 80), native,
           marked: outline || cs.boxShadow !== 'none', ring };
}"""
)

UNFOCUSED_SAME = """() => {
  document.activeElement?.blur();
  const same = [];
  for (const [order, look] of Object.entries(window.__a11yLook)) {
    const el = document.querySelector(`[data-a11y-order="${order}"]`);
    const cs = getComputedStyle(el);
    if (`${cs.outlineStyle} ${cs.outlineWidth} ${cs.outlineColor} | ${cs.boxShadow}` === look) {
      same.push(el.outerHTML.slice(0, 80));
    }
  }
  return same;
}"""


def _tab_through(page: Page) -> list[str]:
    """Tabs from the top of the page to its end; what is wrong with the trip."""
    page.evaluate("() => { document.activeElement?.blur(); window.scrollTo(0, 0); }")
    plan = page.evaluate(FOCUSABLE)
    expected: list[int] = plan["expected"]
    problems = [f"positive tabindex: {p}" for p in plan["positive"]]
    reached: list[int] = []
    for _ in range(len(expected) + 3):
        page.keyboard.press("Tab")
        got = page.evaluate(FOCUSED)
        if got is not None and reached and got["order"] == reached[-1] >= 0 and got["native"]:
            continue  # Tab moves through a media element's own controls
        if got is None or (got["order"] in reached):
            break
        if got["order"] < 0:
            problems.append(f"focus on an element nobody sees: {got['what']}")
            continue
        if not got["marked"] and not got["native"]:
            problems.append(f"no visible focus (outline or box shadow): {got['what']}")
        elif got["ring"] is not None and got["ring"] < 3:
            problems.append(f"focus outline at {got['ring']:.2f}:1 < 3:1: {got['what']}")
        reached.append(got["order"])
    if reached != sorted(reached):
        problems.append(f"tab order is not the reading order: {reached}")
    missing = sorted(set(expected) - set(reached))
    if missing:
        what = page.evaluate(
            "(m) => m.map((i) => document.querySelector(`[data-a11y-order='${i}']`)"
            ".outerHTML.slice(0, 80))",
            missing,
        )
        problems.extend(f"Tab never reaches: {w}" for w in what)
    problems.extend(f"focus looks like no focus: {w}" for w in page.evaluate(UNFOCUSED_SAME))
    return problems


def _tab_to(page: Page, text: str, limit: int = 40) -> None:
    """Presses Tab until the focused element's text (or label) is ``text``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => (document.activeElement?.getAttribute('aria-label')"
            " || document.activeElement?.textContent || '').trim()"
        )
        if focused == text:
            return
    pytest.fail(f"Tab never reached {text!r}")


def test_sign_in_and_reach_the_creator_studio_with_the_keyboard_alone(
    page: Page, seeded: Seeded
) -> None:
    page.goto(seeded.studio.base_url + "/")
    expect(page.get_by_role("heading", name="Voice catalogue")).to_be_visible()
    # The skip link comes first and moves focus into the page.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    _tab_to(page, "Sign in")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(page.locator("main")).to_be_focused()  # a new page puts focus at its start
    _tab_to(page, "Sign in as Demo creator")
    page.keyboard.press("Space")
    expect(page.locator(".account")).to_contain_text("Demo creator")
    _tab_to(page, "Creator studio")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Creator studio")).to_be_visible()
    expect(page.get_by_role("heading", name=seeded.voice_name)).to_be_visible()
    # The fan track waiting for approval plays from its waveform with Space.
    queue = page.get_by_role("region", name="4. Fan tracks waiting for your approval")
    expect(queue.locator(".waveform[data-ready=true]")).to_have_count(1)
    _tab_to(page, "Play “Tone for the ears”", limit=80)
    page.keyboard.press("Enter")
    expect(queue.get_by_role("button", name="Pause “Tone for the ears”")).to_be_visible()
    page.keyboard.press("Enter")
    expect(queue.get_by_role("button", name="Play “Tone for the ears”")).to_be_visible()


# --- small screens ----------------------------------------------------------------------------

OVERFLOW = """() => {
  const width = window.innerWidth;
  const scrolls = document.documentElement.scrollWidth > width;
  const scroller = (el) => {
    for (let e = el.parentElement; e; e = e.parentElement) {
      const o = getComputedStyle(e).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
    }
    return false;
  };
  const over = (el) => el.getBoundingClientRect().right > width + 0.5 && !scroller(el);
  const wide = scrolls ? [...document.body.querySelectorAll('*')]
    .filter((el) => over(el) && ![...el.children].some(over))
    .slice(0, 8).map((el) => `${el.outerHTML.slice(0, 80)} (${el.getBoundingClientRect().right})`)
    : [];
  const nav = [...document.querySelectorAll('nav[aria-label=Main] a, .account a, .account button')]
    .filter((a) => {
      const r = a.getBoundingClientRect();
      return !a.checkVisibility() || r.left < 0 || r.right > width || r.height < 24;
    }).map((a) => `navigation item off screen or too small: ${a.textContent}`);
  return { scrollWidth: document.documentElement.scrollWidth, width, wide, nav };
}"""


# --- one visit of every page, every check -----------------------------------------------------


@dataclass
class Audit:
    contrast: dict[str, list[str]] = field(default_factory=dict)
    structure: dict[str, list[str]] = field(default_factory=dict)
    keyboard: dict[str, list[str]] = field(default_factory=dict)
    small_screen: dict[str, list[str]] = field(default_factory=dict)

    def note(self, kind: dict[str, list[str]], page: str, found: list[str]) -> None:
        if found:
            kind.setdefault(page, []).extend(found)


def _small_screen(page: Page) -> list[str]:
    got = page.evaluate(OVERFLOW)
    found = list(got["nav"])
    if got["scrollWidth"] > got["width"]:
        found.append(f"scrollWidth {got['scrollWidth']} > {got['width']}: {got['wide']}")
    return found


@pytest.fixture(scope="module")
def audit(
    seeded: Seeded, playwright: Playwright, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Audit]:
    """Every page, as its role, checked once at 1280 by 900 (contrast, names, structure, Tab)
    and once at 375 by 740 (sideways scrolling, navigation); then the navigation is used at
    375 wide. Fails on any console error."""
    profile = tmp_path_factory.mktemp("a11y-profile")
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        headless=True,
        viewport=DESKTOP,
    )
    try:
        console = ConsoleWatch(context)
        page = context.pages[0] if context.pages else context.new_page()
        console.watch(page)
        page.set_default_timeout(15_000)
        result = Audit()
        who: str | None = "nobody"
        for name, path, role, marker in PAGES:
            if role != who:
                _sign_in(page, seeded.studio.base_url, role)
                who = role
            _visit(page, seeded, path, marker)
            result.note(result.contrast, name, page.evaluate(CONTRAST))
            result.note(result.structure, name, page.evaluate(STRUCTURE) + _unnamed(page))
            result.note(result.keyboard, name, _tab_through(page))
            page.set_viewport_size(MOBILE)
            page.evaluate(SETTLED)
            result.note(result.small_screen, name, _small_screen(page))
            result.note(result.contrast, f"{name} (375 wide)", page.evaluate(CONTRAST))
            page.set_viewport_size(DESKTOP)
        # The navigation works on a phone: from the last page to two others by touch.
        page.set_viewport_size(MOBILE)
        nav = page.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="Epochs").click()
        expect(page.get_by_role("heading", name="Settlement epochs")).to_be_visible()
        nav.get_by_role("link", name="Catalogue").click()
        expect(page.get_by_role("heading", name=seeded.voice_name)).to_be_visible()
        page.evaluate(SETTLED)
        result.note(result.small_screen, "catalogue after navigating", _small_screen(page))
        assert console.errors == []
        yield result
    finally:
        context.close()


def test_text_contrast_meets_wcag_aa(audit: Audit) -> None:
    assert audit.contrast == {}, _report(audit.contrast)


def test_controls_named_pictures_described_headings_in_order(audit: Audit) -> None:
    assert audit.structure == {}, _report(audit.structure)


def test_tab_reaches_every_control_in_order_with_visible_focus(audit: Audit) -> None:
    assert audit.keyboard == {}, _report(audit.keyboard)


def test_small_screen_no_sideways_scrolling_navigation_usable(audit: Audit) -> None:
    assert audit.small_screen == {}, _report(audit.small_screen)


KNOWN_FAULTS = """<!doctype html><html><head><style>
  body { background: #fff; color: #111; font: 16px sans-serif; }
  .pale { color: #aaa; }
  .big { color: #949494; font-size: 24px; }
  .quiet:focus { outline: none; }
  .faint:focus-visible { outline: 2px solid #ddd; }
  .wide { width: 600px; }
</style></head><body>
  <h1>Title</h1><h3>Skipped a level</h3>
  <p class="pale">Pale grey on white</p>
  <p class="big">Large text at 3:1 passes</p>
  <input type="text"><button class="quiet">Quiet</button><button class="faint">Faint</button>
  <a href="#x">Fine</a>
  <canvas width="40" height="20"></canvas><img src="data:,">
  <div class="wide">Too wide for a phone</div>
</body></html>"""


def test_the_checks_find_known_faults(page: Page) -> None:
    """The measurements above are not vacuous: a page with each fault is caught."""
    page.set_viewport_size(MOBILE)
    page.set_content(KNOWN_FAULTS)
    contrast = page.evaluate(CONTRAST)
    assert len(contrast) == 1 and "Pale grey" in contrast[0] and "2.32:1 < 4.5:1" in contrast[0]
    structure = page.evaluate(STRUCTURE)
    assert "<html> has no lang" in structure
    assert any("h1 → H3" in p for p in structure)
    assert any(p.startswith("CANVAS without alt") for p in structure)
    assert any(p.startswith("img without alt") for p in structure)
    unnamed = _unnamed(page)
    assert any(u.startswith("textbox <input") for u in unnamed), unnamed
    keyboard = _tab_through(page)
    assert any("no visible focus" in k and "Quiet" in k for k in keyboard), keyboard
    assert any("focus outline at 1.36:1 < 3:1" in k and "Faint" in k for k in keyboard), keyboard
    assert not any("Fine" in k for k in keyboard), keyboard
    small = _small_screen(page)
    assert len(small) == 1 and "Too wide for a phone" in small[0], small
