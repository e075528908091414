// Creator / fan / platform shares as three sliders that always add up to 100 %: moving one
// takes from (or gives to) the share touched least recently (domain/shares.ts).

import {
  INITIAL_ORDER,
  percent,
  rebalance,
  SHARE_NAMES,
  STEP_BPS,
  TOTAL_BPS,
  touched,
  type Shares,
} from "../domain/shares";
import { h, uid } from "../ui/dom";

const HELP = [
  "Paid to your payout address for every play of a track made with this voice.",
  "Paid to the fan who made the track.",
  "Timbre's fee, paid to the platform treasury.",
];

export interface SharesSliders {
  el: HTMLElement;
  value(): Shares;
}

export function sharesSliders(initial: Shares): SharesSliders {
  let shares: Shares = initial;
  let order: readonly number[] = INITIAL_ORDER;
  const inputs: HTMLInputElement[] = [];
  const outputs: HTMLOutputElement[] = [];
  const segments: HTMLElement[] = [];
  const total = h("p", { class: "shares-total", "aria-live": "polite" });

  const render = () => {
    shares.forEach((bps, i) => {
      inputs[i]!.value = String(bps);
      inputs[i]!.setAttribute("aria-valuetext", percent(bps));
      outputs[i]!.textContent = percent(bps);
      segments[i]!.style.flexGrow = String(bps);
      segments[i]!.title = `${SHARE_NAMES[i]} ${percent(bps)}`;
    });
    total.textContent = `Total: ${percent(shares[0] + shares[1] + shares[2])}`;
  };

  const rows = SHARE_NAMES.map((name, i) => {
    const id = uid(`share-${name.toLowerCase()}`);
    const helpId = uid("share-help");
    const input = h("input", {
      id,
      type: "range",
      min: 0,
      max: TOTAL_BPS,
      step: STEP_BPS,
      value: shares[i]!,
      "aria-describedby": helpId,
      "data-share": name.toLowerCase(),
    });
    input.addEventListener("input", () => {
      shares = rebalance(shares, i, Number(input.value), order);
      order = touched(order, i);
      render();
    });
    const out = h("output", { for: id, class: "share-value" });
    inputs.push(input);
    outputs.push(out);
    segments.push(h("span", { class: `share-seg share-${i}` }));
    return h(
      "div",
      { class: "share-row" },
      h("label", { for: id }, `${name} share`),
      input,
      out,
      h("p", { id: helpId, class: "hint" }, HELP[i]!),
    );
  });

  const el = h(
    "fieldset",
    { class: "shares" },
    h("legend", {}, "Royalty shares (always 100 % in total)"),
    h("div", { class: "share-bar", "aria-hidden": "true" }, ...segments),
    ...rows,
    total,
  );
  render();
  return { el, value: () => shares };
}
