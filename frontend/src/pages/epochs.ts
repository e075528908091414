// Public settlement epochs: status, totals, Merkle root and the published report.

import { api } from "../api/client";
import type { Epoch } from "../api/types";
import { notice } from "../components/notice";
import { baseUnitsToDollars } from "../domain/money";
import type { Page } from "../router";
import { clear, h, shortAddress } from "../ui/dom";

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
                h("td", {}, e.report_url ? h("a", { href: e.report_url, download: `epoch-${e.number}-report.json` }, "Download report") : "—"),
              ),
            ),
          ),
        ),
      ),
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
        ". A verify button in the browser is coming soon.",
      ),
      msg.el,
      body,
    ),
  };
};
