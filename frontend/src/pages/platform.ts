// The platform console: register a platform, open and fund its escrow channel from its own
// wallet, watch the balance against the vouchers it signed but nobody redeemed yet, take money
// out through the timed exit, manage API keys and see usage per track.

import { api } from "../api/client";
import type { ApiKey, Channel, Config, Platform, TrackUsage } from "../api/types";
import { notice, type Notice } from "../components/notice";
import { AmountError, baseUnitsToDollars, dollarsToBaseUnits } from "../domain/money";
import type { Page } from "../router";
import { hasRole, refreshRoles, session, signingWallet } from "../session";
import { append, clear, h, shortAddress, uid } from "../ui/dom";
import { sendStep } from "../wallet/transactions";
import { needSignIn } from "./gate";

const TITLE = "Platform console";
const REFRESH_MS = 1000;

const usd = (cfg: Config, units: string | bigint) => `$${baseUnitsToDollars(units, cfg.token_decimals)}`;

/** A dollar amount field that shows its base-unit value as it is typed. */
function amountField(cfg: Config, label: string, initial: string) {
  const id = uid("amount");
  const hintId = uid("amount-hint");
  const input = h("input", { id, type: "text", inputmode: "decimal", autocomplete: "off", value: initial, "aria-describedby": hintId });
  const hint = h("p", { class: "hint", id: hintId, "aria-live": "polite" });
  const read = (): bigint | null => {
    try {
      const v = dollarsToBaseUnits(input.value, cfg.token_decimals);
      hint.textContent = `= ${v} base units`;
      input.removeAttribute("aria-invalid");
      return v;
    } catch (err) {
      hint.textContent = err instanceof AmountError ? err.message : "Enter an amount in dollars.";
      input.setAttribute("aria-invalid", "true");
      return null;
    }
  };
  input.addEventListener("input", () => void read());
  read();
  return { el: h("div", { class: "field" }, h("label", { for: id }, label), input, hint), read, input };
}

function formatWait(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const hms = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  return hms[0] ? `${hms[0]} h ${hms[1]} min ${hms[2]} s` : `${hms[1]} min ${hms[2]} s`;
}

export const platformPage: Page = ({ cfg }) => {
  if (!session()) {
    return needSignIn(TITLE, "/platform", "Sign in with the wallet that pays for your platform's plays.");
  }
  if (!hasRole("platform")) return registerView();
  let disposed = false;
  let timer: number | undefined;
  const msg = notice();
  const body = h("div", { class: "stack" }, h("p", { class: "hint" }, "Loading…"));
  api
    .myPlatform()
    .then((p) => {
      if (disposed) return;
      clear(body);
      const parts = consoleParts(cfg, p, () => disposed, (t) => (timer = t));
      body.append(...parts);
    })
    .catch((err) => {
      clear(body);
      msg.error(err);
    });
  return {
    title: TITLE,
    el: h("div", { class: "page" }, h("h1", {}, TITLE), msg.el, body),
    destroy() {
      disposed = true;
      window.clearInterval(timer);
    },
  };
};

function registerView() {
  const msg = notice();
  const id = uid("platform-name");
  const name = h("input", { id, type: "text", required: true, maxlength: 120, autocomplete: "organization" });
  const button = h("button", { type: "submit", class: "button primary" }, "Register platform");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "register-title" },
    h("h2", { id: "register-title" }, "Register your platform"),
    h("p", {}, "Streaming platforms pay each play from an escrow channel funded by this wallet, with a signed voucher per play."),
    h("div", { class: "field" }, h("label", { for: id }, "Platform name"), name),
    h("div", { class: "row" }, button),
    msg.el,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!name.value.trim()) {
      msg.error(new Error("Give the platform a name."));
      name.focus();
      return;
    }
    button.disabled = true;
    try {
      await api.registerPlatform(name.value.trim());
      await refreshRoles(); // the platform role arrived: the page re-renders as the console
    } catch (err) {
      msg.error(err);
      button.disabled = false;
    }
  });
  return { title: TITLE, el: h("div", { class: "page narrow" }, h("h1", {}, TITLE), form) };
}

function consoleParts(cfg: Config, platform: Platform, disposed: () => boolean, setTimer: (t: number) => void): HTMLElement[] {
  let channelId = platform.channel_id;

  // --- channel: balance, liability, fund, timed exit --------------------------------------
  const chanMsg = notice();
  const chanBox = h("div", { "aria-live": "polite" });
  const countdown = h("p", { class: "countdown", role: "timer", "aria-live": "off" });
  const fund = amountField(cfg, "Amount (US dollars)", "10");
  const withdrawAmount = amountField(cfg, "Withdrawal amount (US dollars)", "1");
  const faucetButton = h("button", { type: "button", class: "button" }, "Get test dollars (demo chain faucet)");
  const depositButton = h("button", { type: "button", class: "button primary" }, "Deposit into the channel");
  const openButton = h("button", { type: "button", class: "button primary" }, "Open the escrow channel");
  const requestButton = h("button", { type: "button", class: "button" }, "Request withdrawal");
  const executeButton = h("button", { type: "button", class: "button primary", disabled: true }, "Execute withdrawal");
  const cancelButton = h("button", { type: "button", class: "button danger" }, "Cancel withdrawal");
  const fundBox = h("div", {}, h("h3", {}, "Fund"), fund.el, h("div", { class: "row" }, faucetButton, depositButton));
  const exitBox = h("div", {});
  let readyAt = 0;
  let chainOffset = 0; // chain time − this clock, in seconds

  const busy = async (m: Notice, buttons: HTMLButtonElement[], work: () => Promise<string>) => {
    buttons.forEach((b) => (b.disabled = true));
    m.clear();
    try {
      const done = await work();
      m.success(done);
    } catch (err) {
      m.error(err);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
      await loadChannel();
    }
  };

  const tick = () => {
    if (!readyAt) return;
    const left = readyAt - (Date.now() / 1000 + chainOffset);
    executeButton.disabled = left > 0;
    countdown.textContent = left > 0 ? `Ready to execute in ${formatWait(left)} (chain time).` : "The delay has passed: execute the withdrawal.";
  };

  const showChannel = (c: Channel | null) => {
    clear(chanBox);
    clear(exitBox);
    if (!c) {
      append(
        chanBox,
        h("p", {}, "No channel yet. Opening one is a transaction from your wallet; its vouchers are signed by the same wallet."),
        h("div", { class: "row" }, openButton),
      );
      fundBox.hidden = true;
      return;
    }
    fundBox.hidden = false;
    const row = (term: string, value: string, note?: string) => [h("dt", {}, term), h("dd", {}, value, note ? h("span", { class: "hint" }, ` — ${note}`) : null)];
    append(
      chanBox,
      h(
        "dl",
        { class: "terms-summary", "aria-label": "Channel balance" },
        ...row("Channel", `#${c.channel_id}`),
        ...row("Balance", usd(cfg, c.balance), "deposited, not yet redeemed"),
        ...row("Pending liability", usd(cfg, c.pending_liability), "vouchers you signed that settlement has not redeemed yet"),
        ...row("Available", usd(cfg, c.available), "balance minus pending liability"),
        ...row("Charged in total", usd(cfg, c.charged), `${c.last_seq} vouchers`),
        ...row("Redeemed on-chain", usd(cfg, c.claimed_onchain)),
      ),
    );
    chainOffset = c.chain_time - Date.now() / 1000;
    readyAt = c.withdrawal_pending ? c.withdraw_ready_at : 0;
    const delay = formatWait(c.withdrawal_delay_s);
    if (c.withdrawal_pending) {
      append(
        exitBox,
        h("h3", {}, "Withdrawal"),
        h("p", {}, `A withdrawal of ${usd(cfg, c.withdraw_amount)} is pending. New plays are refused until it is executed or cancelled.`),
        countdown,
        h("div", { class: "row" }, executeButton, cancelButton),
      );
      tick();
    } else {
      append(
        exitBox,
        h("h3", {}, "Withdraw"),
        h("p", {}, `Taking money out is a timed exit: request it, wait ${delay}, then execute it. Vouchers already signed are paid first, and new plays are refused while it is pending.`),
        withdrawAmount.el,
        h("div", { class: "row" }, requestButton),
      );
    }
  };

  const loadChannel = async () => {
    if (!channelId) {
      showChannel(null);
      return;
    }
    try {
      const c = await api.channel();
      if (!disposed()) showChannel(c);
    } catch (err) {
      chanMsg.error(err);
    }
  };

  openButton.addEventListener("click", () =>
    void busy(chanMsg, [openButton], async () => {
      const wallet = await signingWallet();
      const setup = await api.channelSetup(0n);
      const open = setup.steps[0];
      if (!open) throw new Error("The channel is already open; reload the page.");
      chanMsg.info(`Opening the channel from ${wallet.label}…`);
      const outcome = await sendStep(wallet, open);
      if (!outcome.channel_id) throw new Error("The transaction did not open a channel.");
      await api.linkChannel(outcome.channel_id);
      channelId = outcome.channel_id;
      return `Channel #${outcome.channel_id} is open. Fund it to start streaming.`;
    }),
  );
  faucetButton.addEventListener("click", () =>
    void busy(chanMsg, [faucetButton, depositButton], async () => {
      const amount = fund.read();
      if (amount === null || amount <= 0n) throw new Error("Enter an amount above zero.");
      await api.faucet(amount);
      return `${usd(cfg, amount)} of test dollars were minted to your wallet. Deposit them next.`;
    }),
  );
  depositButton.addEventListener("click", () =>
    void busy(chanMsg, [faucetButton, depositButton], async () => {
      const amount = fund.read();
      if (amount === null || amount <= 0n) throw new Error("Enter an amount above zero.");
      const wallet = await signingWallet();
      const setup = await api.channelSetup(amount);
      for (const [i, step] of setup.steps.entries()) {
        chanMsg.info(`Step ${i + 1} of ${setup.steps.length}: ${step.description}…`);
        await sendStep(wallet, step);
      }
      return `Deposited ${usd(cfg, amount)} into the channel.`;
    }),
  );
  requestButton.addEventListener("click", () =>
    void busy(chanMsg, [requestButton], async () => {
      const amount = withdrawAmount.read();
      if (amount === null || amount <= 0n) throw new Error("Enter an amount above zero.");
      const [request] = await api.withdrawalSteps(amount);
      if (!request) throw new Error("No withdrawal step was offered.");
      await sendStep(await signingWallet(), request);
      return `Withdrawal of ${usd(cfg, amount)} requested.`;
    }),
  );
  const exitStep = (index: 0 | 1, done: string) => () =>
    void busy(chanMsg, [executeButton, cancelButton], async () => {
      const step = (await api.withdrawalSteps(0n))[index];
      if (!step) throw new Error("No such withdrawal step was offered.");
      await sendStep(await signingWallet(), step);
      return done;
    });
  cancelButton.addEventListener("click", exitStep(0, "Withdrawal cancelled: streaming resumes."));
  executeButton.addEventListener("click", exitStep(1, "Withdrawal executed: the money is back in your wallet."));
  setTimer(window.setInterval(tick, REFRESH_MS));

  const channel = h(
    "section",
    { class: "card", "aria-labelledby": "channel-title" },
    h("h2", { id: "channel-title" }, "Escrow channel"),
    h("p", { class: "hint" }, "Paying wallet ", h("span", { class: "mono", title: platform.wallet_address }, shortAddress(platform.wallet_address))),
    chanBox,
    fundBox,
    exitBox,
    chanMsg.el,
  );

  // --- API keys -------------------------------------------------------------------------
  const keysMsg = notice();
  const keysBox = h("div", {});
  const secretBox = h("div", { "aria-live": "polite" });
  const keyNameId = uid("key-name");
  const keyName = h("input", { id: keyNameId, type: "text", maxlength: 80, autocomplete: "off", value: "Production player" });
  const createButton = h("button", { type: "submit", class: "button primary" }, "Create API key");
  const showKeys = (keys: ApiKey[]) => {
    clear(keysBox);
    if (!keys.length) {
      keysBox.append(h("p", { class: "empty" }, "No API keys yet."));
      return;
    }
    keysBox.append(
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          {},
          h("caption", {}, "API keys"),
          h("thead", {}, h("tr", {}, ...["Name", "Starts with", "Created", "Last used", "Status", ""].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            {},
            ...keys.map((k) => {
              const revoke = h("button", { type: "button", class: "button small danger", "aria-label": `Revoke API key ${k.name}` }, "Revoke");
              revoke.addEventListener("click", async () => {
                revoke.disabled = true;
                try {
                  await api.revokeApiKey(platform.id, k.id);
                  keysMsg.success(`“${k.name}” is revoked; requests with it are refused from now on.`);
                  await loadKeys();
                } catch (err) {
                  keysMsg.error(err);
                  revoke.disabled = false;
                }
              });
              return h(
                "tr",
                {},
                h("td", {}, k.name),
                h("td", { class: "mono" }, `${k.prefix}…`),
                h("td", {}, new Date(k.created_at).toLocaleString()),
                h("td", {}, k.last_used_at ? new Date(k.last_used_at).toLocaleString() : "never"),
                h("td", {}, k.revoked_at ? "Revoked" : "Active"),
                h("td", {}, k.revoked_at ? null : revoke),
              );
            }),
          ),
        ),
      ),
    );
  };
  const loadKeys = () =>
    api
      .apiKeys(platform.id)
      .then((k) => !disposed() && showKeys(k))
      .catch((err) => keysMsg.error(err));
  const keyForm = h(
    "form",
    { class: "row", "aria-label": "Create an API key" },
    h("div", { class: "field" }, h("label", { for: keyNameId }, "Key name"), keyName),
    createButton,
  );
  keyForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    createButton.disabled = true;
    keysMsg.clear();
    clear(secretBox);
    try {
      const created = await api.createApiKey(platform.id, keyName.value.trim() || "API key");
      const secretId = uid("secret");
      append(
        secretBox,
        h(
          "div",
          { class: "secret", role: "group", "aria-labelledby": secretId },
          h("p", { id: secretId }, h("strong", {}, `New key “${created.name}”. Copy it now: it is shown only once.`)),
          h("input", { type: "text", readonly: true, class: "mono", value: created.key, "aria-label": `API key ${created.name}`, "data-api-key": "" }),
        ),
      );
      await loadKeys();
    } catch (err) {
      keysMsg.error(err);
    } finally {
      createButton.disabled = false;
    }
  });
  const keys = h(
    "section",
    { class: "card", "aria-labelledby": "keys-title" },
    h("h2", { id: "keys-title" }, "API keys"),
    h("p", {}, "Your player's server sends one with each play (header X-API-Key), together with the play's signed voucher."),
    keyForm,
    secretBox,
    keysMsg.el,
    keysBox,
  );

  // --- usage per track -------------------------------------------------------------------
  const usageMsg = notice();
  const usageBox = h("div", {});
  const showUsage = (rows: TrackUsage[]) => {
    clear(usageBox);
    if (!rows.length) {
      usageBox.append(h("p", { class: "empty" }, "No plays yet."));
      return;
    }
    const plays = rows.reduce((n, r) => n + r.plays, 0);
    const total = rows.reduce((n, r) => n + BigInt(r.amount), 0n);
    usageBox.append(
      h("p", {}, `${plays} paid play${plays === 1 ? "" : "s"}, ${usd(cfg, total)} in total.`),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          {},
          h("caption", {}, "Usage per track and epoch"),
          h("thead", {}, h("tr", {}, ...["Track", "Epoch", "Plays", "Amount"].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            {},
            ...rows.map((r) =>
              h(
                "tr",
                {},
                h("td", {}, h("a", { href: `/track?id=${encodeURIComponent(r.track_id)}` }, r.title)),
                h("td", {}, String(r.epoch)),
                h("td", {}, String(r.plays)),
                h("td", {}, usd(cfg, r.amount)),
              ),
            ),
          ),
        ),
      ),
    );
  };
  const loadUsage = () =>
    api
      .usage(platform.id)
      .then((r) => !disposed() && showUsage(r))
      .catch((err) => usageMsg.error(err));
  const refreshUsage = h("button", { type: "button", class: "button small" }, "Refresh usage");
  refreshUsage.addEventListener("click", () => {
    void loadUsage();
    void loadChannel();
  });
  const usage = h(
    "section",
    { class: "card", "aria-labelledby": "usage-title" },
    h("h2", { id: "usage-title" }, "Usage per track"),
    h("p", {}, "Plays your API keys paid for, settled or not."),
    h("div", { class: "row" }, refreshUsage),
    usageMsg.el,
    usageBox,
  );

  // The faucet exists only on dev chains: offer it only there.
  faucetButton.hidden = true;
  api
    .channelSetup(0n)
    .then((setup) => (faucetButton.hidden = !setup.faucet_available))
    .catch((err) => chanMsg.error(err));
  void loadChannel();
  void loadKeys();
  void loadUsage();
  return [
    h("p", { class: "lead" }, `${platform.name} · registered ${new Date(platform.created_at).toLocaleDateString()}`),
    channel,
    keys,
    usage,
  ];
}
