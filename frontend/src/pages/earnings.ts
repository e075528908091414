// Earnings: the signed-in wallet's cumulative entitlement, what it can claim now, its earnings
// per settled epoch (chart + table) and per track; claiming is relayed by the service.

import { api } from "../api/client";
import type { Config, EpochEarning, Payout, TrackEarning } from "../api/types";
import { barChart } from "../components/barChart";
import { notice } from "../components/notice";
import { baseUnitsToDollars } from "../domain/money";
import type { Page } from "../router";
import { session } from "../session";
import { append, clear, h, shortAddress } from "../ui/dom";
import { needSignIn } from "./gate";

const TITLE = "Earnings";

const usd = (cfg: Config, units: string) => `$${baseUnitsToDollars(units, cfg.token_decimals)}`;

function table(caption: string, head: string[], rows: (string | number)[][]): HTMLElement {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, String(c)))))),
    ),
  );
}

export const earningsPage: Page = ({ cfg }) => {
  if (!session()) {
    return needSignIn(TITLE, "/earnings", "Sign in to see what your voices and tracks earned, and to claim it.");
  }
  let disposed = false;
  const msg = notice();
  const balance = h("div", { class: "balance", "aria-live": "polite" }, h("p", { class: "hint" }, "Loading…"));
  const claim = h("button", { type: "button", class: "button primary", disabled: true }, "Claim");
  const perEpoch = h("div", {}, h("p", { class: "hint" }, "Loading…"));
  const perTrack = h("div", {}, h("p", { class: "hint" }, "Loading…"));

  const showPayout = (p: Payout) => {
    clear(balance);
    const row = (term: string, value: string) => [h("dt", {}, term), h("dd", {}, value)];
    append(
      balance,
      h(
        "dl",
        { class: "terms-summary" },
        ...row("Earned in total", usd(cfg, p.cumulative_amount)),
        ...row("Already claimed", usd(cfg, p.claimed_onchain)),
        ...row("Claimable now", usd(cfg, p.claimable)),
        ...row("Settled up to", p.epoch === null ? "no settled epoch yet" : `epoch ${p.epoch}`),
      ),
      p.root_active || p.epoch === null
        ? null
        : h("p", { class: "hint" }, "The latest settlement is in its challenge window; it becomes claimable when that ends."),
    );
    claim.disabled = BigInt(p.claimable) <= 0n;
    claim.textContent = BigInt(p.claimable) > 0n ? `Claim ${usd(cfg, p.claimable)}` : "Nothing to claim";
  };
  const showEpochs = (rows: EpochEarning[]) => {
    clear(perEpoch);
    if (!rows.length) {
      perEpoch.append(h("p", { class: "empty" }, "No settled epochs with earnings yet."));
      return;
    }
    perEpoch.append(
      barChart(
        rows.map((r) => ({
          label: `#${r.epoch}`,
          value: Number(r.increment),
          title: `Epoch ${r.epoch}: +${usd(cfg, r.increment)}`,
        })),
      ),
      table(
        "Earnings per epoch",
        ["Epoch", "Earned in the epoch", "Earned in total"],
        rows.map((r) => [r.epoch, usd(cfg, r.increment), usd(cfg, r.cumulative_amount)]),
      ),
    );
  };
  const showTracks = (rows: TrackEarning[]) => {
    clear(perTrack);
    if (!rows.length) {
      perTrack.append(h("p", { class: "empty" }, "No plays of your tracks have been settled yet."));
      return;
    }
    perTrack.append(
      table(
        "Earnings per track (cumulative)",
        ["Track", "Your role", "Epoch", "Plays", "Gross", "Your share"],
        rows.map((r) => [
          r.title ?? shortAddress(r.track_onchain_id),
          r.role,
          r.epoch,
          r.plays,
          usd(cfg, r.gross),
          usd(cfg, r.role === "creator" ? r.creator_amount : r.fan_amount),
        ]),
      ),
    );
  };
  const load = () => {
    api.payout().then((p) => !disposed && showPayout(p)).catch((err) => msg.error(err));
    api.epochEarnings().then((r) => !disposed && showEpochs(r)).catch((err) => msg.error(err));
    api.trackEarnings().then((r) => !disposed && showTracks(r)).catch((err) => msg.error(err));
  };
  claim.addEventListener("click", async () => {
    claim.disabled = true;
    msg.clear();
    try {
      const { tx_hash } = await api.claim();
      msg.success(`Claimed: the tokens are on their way to your wallet (transaction ${shortAddress(tx_hash)}).`);
      load();
    } catch (err) {
      msg.error(err);
      claim.disabled = false;
    }
  });
  load();
  const el = h(
    "div",
    { class: "page" },
    h("h1", {}, TITLE),
    h(
      "div",
      { class: "stack" },
      h(
        "section",
        { class: "card", "aria-labelledby": "balance-title" },
        h("h2", { id: "balance-title" }, "Your balance"),
        h("p", {}, "Earnings are settled per epoch and paid from the royalty distributor; the service relays your claim and pays its gas."),
        balance,
        h("div", { class: "row" }, claim),
        msg.el,
      ),
      h("section", { class: "card", "aria-labelledby": "epochs-title" }, h("h2", { id: "epochs-title" }, "Per epoch"), perEpoch),
      h("section", { class: "card", "aria-labelledby": "tracks-title" }, h("h2", { id: "tracks-title" }, "Per track"), perTrack),
    ),
  );
  return {
    title: TITLE,
    el,
    destroy() {
      disposed = true;
    },
  };
};
