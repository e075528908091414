// Public settlement epochs: status, totals, Merkle root and the published report.

import { api } from "../api/client";
import type { Epoch, EpochVerify } from "../api/types";
import { notice } from "../components/notice";
import { baseUnitsToDollars } from "../domain/money";
import type { Page } from "../router";
import { append, clear, h, shortAddress } from "../ui/dom";

const TITLE = "Settlement epochs";

export const epochsPage: Page = ({ cfg }) => {
  const msg = notice();
  const body = h("div", {}, h("p", { class: "hint" }, "Loading…"));
  const usd = (units: string) => `$${baseUnitsToDollars(units, cfg.token_decimals)}`;
  const show = (epochs: Epoch[]) => {
    clear(body);
    if (!epochs.length) {
      body.append(h("p", { class: "empty" }, "No epoch has been settled yet."));
      return;
    }
    body.append(
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          {},
          h("caption", {}, "Settled epochs, newest first"),
          h(
            "thead",
            {},
            h("tr", {}, ...["Epoch", "Status", "Ended", "Claimed from escrow", "Paid to payees", "Dust", "Merkle root", "Report"].map((c) => h("th", { scope: "col" }, c))),
          ),
          h(
            "tbody",
            {},
            ...epochs.map((e) =>
              h(
                "tr",
                {},
                h("td", {}, String(e.number)),
                h("td", {}, e.status),
                h("td", {}, new Date(e.ends_at).toLocaleString()),
                h("td", {}, usd(e.claimed_total)),
                h("td", {}, usd(e.entitled_total)),
                h("td", {}, usd(e.dust_total)),
                h("td", { class: "mono" }, e.merkle_root ? shortAddress(e.merkle_root) : "—"),
                h(
                  "td",
                  { class: "report-cell" },
                  e.report_url ? h("a", { href: e.report_url, download: `epoch-${e.number}-report.json` }, "Download") : "—",
                  e.merkle_root ? verifyButton(e.number) : null,
                ),
              ),
            ),
          ),
        ),
      ),
      result,
    );
  };
  const result = h("section", { class: "verify-result", "aria-live": "polite", "aria-label": "Verification result" });
  const verifyButton = (n: number) => {
    const b = h("button", { type: "button", class: "button small" }, "Verify");
    b.setAttribute("aria-label", `Verify epoch ${n}`);
    b.addEventListener("click", async () => {
      b.disabled = true;
      clear(result);
      result.append(h("p", { class: "hint" }, `Verifying epoch ${n}: recomputing its report and reading the chain…`));
      try {
        showResult(await api.verifyEpoch(n));
      } catch (err) {
        clear(result);
        msg.error(err);
      } finally {
        b.disabled = false;
      }
    });
    return b;
  };
  const showResult = (v: EpochVerify) => {
    clear(result);
    const mark = { passed: "✓ Passed", failed: "✗ Failed", not_reached: "– Not checked (an earlier check failed)" };
    append(
      result,
      h("h2", {}, `Epoch ${v.epoch}: `, v.ok ? "verified" : "does not verify"),
      h(
        "p",
        { class: `notice ${v.ok ? "notice-success" : "notice-error"}` },
        v.ok
          ? `The published report recomputes to the root on-chain (${v.root ? shortAddress(v.root) : "?"}): every figure matches.`
          : "The published report does not match what the chain and a recomputation say. Details below.",
      ),
      h(
        "ol",
        { class: "checks", "aria-label": `Checks of epoch ${v.epoch}` },
        ...v.checks.map((c) => h("li", { "data-check": c.status }, h("span", { class: "check-mark" }, mark[c.status]), " ", c.description)),
      ),
      v.difference
        ? h(
            "dl",
            { class: "terms-summary" },
            h("dt", {}, "First difference at"),
            h("dd", { class: "mono wrap" }, v.difference.where),
            h("dt", {}, "Expected"),
            h("dd", { class: "mono wrap" }, v.difference.expected),
            h("dt", {}, "Found"),
            h("dd", { class: "mono wrap" }, v.difference.reported),
          )
        : null,
      h("p", { class: "hint" }, "The same check as ", h("code", {}, `timbre verify --epoch ${v.epoch}`), ", run by this server against the chain and the published report."),
    );
  };
  api
    .epochs()
    .then(show)
    .catch((err) => {
      clear(body);
      msg.error(err);
    });
  return {
    title: TITLE,
    el: h(
      "div",
      { class: "page" },
      h("h1", {}, TITLE),
      h(
        "p",
        { class: "lead" },
        "Every epoch's report holds the inputs of its settlement. Anyone can recompute it: ",
        h("code", {}, "timbre verify --epoch N"),
        ", or press Verify to have this server run the same check.",
      ),
      msg.el,
      body,
    ),
  };
};
