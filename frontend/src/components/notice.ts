// Messages for a person: errors are announced at once (role=alert), the rest politely.

import { describe } from "../api/errors";
import { clear, h } from "../ui/dom";

export interface Notice {
  el: HTMLElement;
  error(err: unknown): void;
  info(text: string): void;
  success(text: string): void;
  clear(): void;
}

export function notice(): Notice {
  const el = h("div", { class: "notice-area" });
  const live = h("div", { role: "status", "aria-live": "polite" });
  const alert = h("div", { role: "alert" });
  el.append(live, alert);
  const show = (target: HTMLElement, cls: string, text: string) => {
    clear(live);
    clear(alert);
    target.append(h("p", { class: `notice ${cls}` }, text));
  };
  return {
    el,
    error: (err) => show(alert, "notice-error", describe(err)),
    info: (text) => show(live, "notice-info", text),
    success: (text) => show(live, "notice-success", text),
    clear: () => {
      clear(live);
      clear(alert);
    },
  };
}
