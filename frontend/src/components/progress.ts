// A labelled progress bar (ARIA progressbar) with a line of status text under it.

import { h, uid } from "../ui/dom";

export interface ProgressBar {
  el: HTMLElement;
  set(fraction: number, text: string): void;
  state(kind: "active" | "done" | "failed"): void;
}

export function progressBar(label: string): ProgressBar {
  const labelId = uid("progress-label");
  const fill = h("div", { class: "progress-fill" });
  const bar = h(
    "div",
    {
      class: "progress-track",
      role: "progressbar",
      "aria-labelledby": labelId,
      "aria-valuemin": 0,
      "aria-valuemax": 100,
      "aria-valuenow": 0,
    },
    fill,
  );
  const text = h("p", { class: "progress-text" });
  const el = h("div", { class: "progress" }, h("span", { id: labelId, class: "progress-label" }, label), bar, text);
  return {
    el,
    set(fraction, status) {
      const pct = Math.max(0, Math.min(100, Math.round(fraction * 100)));
      fill.style.width = `${pct}%`;
      bar.setAttribute("aria-valuenow", String(pct));
      bar.setAttribute("aria-valuetext", `${pct} % — ${status}`);
      text.textContent = `${pct} % · ${status}`;
    },
    state(kind) {
      el.dataset.state = kind;
    },
  };
}
