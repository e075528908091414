// The shell: header with navigation and the account, and the routed page in <main>.

import type { Config } from "./api/types";
import { describe } from "./api/errors";
import { cataloguePage } from "./pages/catalogue";
import { earningsPage } from "./pages/earnings";
import { epochsPage } from "./pages/epochs";
import { creatorPage } from "./pages/creator";
import { fanPage } from "./pages/fan";
import { signInPage } from "./pages/signIn";
import { platformPage } from "./pages/platform";
import { notFoundPage } from "./pages/notFound";
import { trackPage } from "./pages/track";
import { currentPath, interceptLinks, type Page, type PageView } from "./router";
import { onSessionChange, session, signOut } from "./session";
import { append, clear, h, shortAddress } from "./ui/dom";

const ROUTES: Record<string, Page> = {
  "/": cataloguePage,
  "/sign-in": signInPage,
  "/creator": creatorPage,
  "/fan": fanPage,
  "/earnings": earningsPage,
  "/epochs": epochsPage,
  "/platform": platformPage,
  "/track": trackPage,
};

const NAV: { path: string; text: string }[] = [
  { path: "/", text: "Catalogue" },
  { path: "/creator", text: "Creator studio" },
  { path: "/fan", text: "Fan studio" },
  { path: "/earnings", text: "Earnings" },
  { path: "/epochs", text: "Epochs" },
  { path: "/platform", text: "Platform console" },
];

export function startApp(root: HTMLElement, cfg: Config): void {
  const nav = h("nav", { "aria-label": "Main" });
  const account = h("div", { class: "account" });
  const flash = h("div", { class: "flash", role: "alert" });
  const main = h("main", { id: "main", tabindex: -1 });
  let view: PageView | null = null;

  const render = (focus: boolean) => {
    view?.destroy?.();
    const path = currentPath();
    const page = ROUTES[path] ?? notFoundPage;
    view = page({ cfg, params: new URLSearchParams(location.search), navigate });
    clear(main);
    main.append(view.el);
    document.title = `${view.title} · Timbre`;
    renderNav(path);
    if (focus) main.focus({ preventScroll: false });
  };

  const navigate = (path: string) => {
    if (path !== location.pathname + location.search) history.pushState(null, "", path);
    flash.textContent = "";
    render(true);
    window.scrollTo(0, 0);
  };

  const renderNav = (path: string) => {
    clear(nav);
    const list = h("ul", {});
    for (const item of NAV) {
      const a = h("a", { href: item.path }, item.text);
      if (item.path === path) a.setAttribute("aria-current", "page");
      list.append(h("li", {}, a));
    }
    nav.append(list);
    renderAccount();
  };

  const renderAccount = () => {
    clear(account);
    const s = session();
    if (!s) {
      account.append(h("a", { class: "button primary", href: `/sign-in` }, "Sign in"));
      return;
    }
    const out = h("button", { type: "button", class: "button" }, "Sign out");
    out.addEventListener("click", async () => {
      out.disabled = true;
      // Leave the page first: re-rendered signed out, a private page would ask for what an
      // anonymous visitor may not see.
      navigate("/");
      try {
        await signOut();
      } catch (err) {
        flash.textContent = describe(err);
      }
    });
    append(
      account,
      s.walletKind === "demo" ? h("span", { class: "badge demo-badge", title: "A public test account of the local chain" }, "Demo wallet") : null,
      h(
        "span",
        { class: "who" },
        h("span", { class: "who-label" }, s.walletKind === "demo" ? s.walletLabel : "Signed in"),
        " ",
        h("span", { class: "mono", title: s.address }, shortAddress(s.address)),
      ),
      out,
    );
  };

  onSessionChange((_s, reason) => {
    if (reason) flash.textContent = reason;
    render(false);
  });
  window.addEventListener("popstate", () => render(true));

  const header = h(
    "header",
    { class: "top" },
    h("a", { class: "brand", href: "/" }, "Timbre"),
    nav,
    account,
  );
  root.append(header, flash, main, h("footer", { class: "foot" }, h("p", {}, `Chain ${cfg.chain_id}${cfg.contracts ? "" : " · no chain configured"} · `, h("a", { href: "/docs" }, "API documentation"))));
  interceptLinks(root, navigate);
  render(false);
}
