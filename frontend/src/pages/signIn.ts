// Sign in with a browser wallet (EIP-1193) or, in the local demo, a labelled demo wallet.

import { notice } from "../components/notice";
import type { Page } from "../router";
import { session, signIn } from "../session";
import { h, shortAddress } from "../ui/dom";
import { demoWallet, hasInjectedWallet, injectedWallet, type Wallet } from "../wallet/wallet";

export const signInPage: Page = ({ cfg, params, navigate }) => {
  const msg = notice();
  const next = params.get("next");
  const target = next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
  const buttons: HTMLButtonElement[] = [];

  const run = async (make: () => Promise<Wallet> | Wallet) => {
    msg.clear();
    buttons.forEach((b) => (b.disabled = true));
    try {
      const wallet = await make();
      msg.info(`Signing in as ${shortAddress(wallet.address)}: confirm the message in your wallet…`);
      await signIn(wallet);
      navigate(target);
    } catch (err) {
      msg.error(err);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  };

  const injected = h("button", { type: "button", class: "button primary" }, "Connect browser wallet");
  injected.addEventListener("click", () => void run(() => injectedWallet(true)));
  buttons.push(injected);

  const demo = cfg.demo_wallets.length
    ? h(
        "section",
        { class: "card demo", "aria-labelledby": "demo-title" },
        h("h2", { id: "demo-title" }, h("span", { class: "badge demo-badge" }, "Demo"), " Demo wallets"),
        h(
          "p",
          {},
          "This studio runs in demo mode. These are public test accounts on the local chain: ",
          h("strong", {}, "anyone can use them and they hold no real money"),
          ". Signing happens in this page, without a wallet extension.",
        ),
        h(
          "ul",
          { class: "demo-list" },
          ...cfg.demo_wallets.map((d) => {
            const b = h(
              "button",
              { type: "button", class: "button", "data-demo-wallet": d.label },
              `Sign in as ${d.label}`,
            );
            b.addEventListener("click", () => void run(() => demoWallet(d.label, d.private_key)));
            buttons.push(b);
            return h("li", {}, b, h("span", { class: "mono hint" }, ` ${shortAddress(d.address)} (demo)`));
          }),
        ),
      )
    : null;

  // Sign-in messages name the studio's public address; from another address they are refused.
  const elsewhere =
    cfg.public_url && new URL(cfg.public_url).origin !== location.origin
      ? h(
          "p",
          { class: "notice notice-info" },
          "This studio signs you in at ",
          h("a", { href: cfg.public_url }, cfg.public_url),
          `; you opened it at ${location.origin}. Open that address to sign in.`,
        )
      : null;
  const who = session();
  const el = h(
    "div",
    { class: "page narrow" },
    h("h1", {}, "Sign in"),
    elsewhere,
    who ? h("p", { class: "notice notice-info" }, `You are signed in as ${shortAddress(who.address)}.`) : null,
    h(
      "section",
      { class: "card", "aria-labelledby": "wallet-title" },
      h("h2", { id: "wallet-title" }, "Your wallet"),
      h(
        "p",
        {},
        "Sign in with Ethereum: your wallet signs a one-time message (no transaction, no fee). " +
          "The same wallet later signs your voice's royalty terms.",
      ),
      hasInjectedWallet()
        ? null
        : h("p", { class: "hint" }, "No browser wallet was detected. Install one, such as MetaMask, then reload."),
      injected,
    ),
    demo,
    msg.el,
  );
  return { title: "Sign in", el };
};
