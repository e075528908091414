// A voice's current terms, read-only (catalogue, fan studio, creator's voice list).

import type { Terms } from "../api/types";
import { baseUnitsToDollars } from "../domain/money";
import { percent } from "../domain/shares";
import { h } from "../ui/dom";

const ON_CHAIN: Record<string, string> = {
  pending: "Signed; being registered on-chain",
  submitted: "Sent to the chain; waiting for confirmation",
  active: "Registered on-chain",
};

export function termsSummary(t: Terms, decimals: number): HTMLElement {
  const row = (term: string, value: string) => [h("dt", {}, term), h("dd", {}, value)];
  return h(
    "dl",
    { class: "terms-summary" },
    ...row("Creator share", percent(t.creator_bps)),
    ...row("Fan share", percent(t.fan_bps)),
    ...row("Platform fee", percent(t.platform_bps)),
    ...row("Price per play", `$${baseUnitsToDollars(t.price_per_play, decimals)} (${t.price_per_play} base units)`),
    ...row("Creator approval", t.approval_required ? "Required for each track" : "Not required"),
    ...row(
      "Terms version",
      `v${t.version} · ${t.effective_epoch === null ? "applies from the next epoch" : `applies from epoch ${t.effective_epoch}`}`,
    ),
    ...row("Registry", ON_CHAIN[t.status] ?? t.status),
  );
}
