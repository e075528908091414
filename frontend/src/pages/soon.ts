// Settlement pages are not built yet; this says so plainly (no placeholder figures).

import type { Page } from "../router";
import { h } from "../ui/dom";

export const soonPage: Page = () => ({
  title: "Settlement — coming soon",
  el: h(
    "div",
    { class: "page narrow" },
    h("h1", {}, "Settlement ", h("span", { class: "badge soon" }, "Coming soon")),
    h("p", { class: "lead" }, "These pages are not available yet:"),
    h(
      "ul",
      {},
      h("li", {}, "Earnings per track and epoch, and claiming payouts (creators and fans)."),
      h("li", {}, "Platform channel: API keys, balance, pending liability, funding and withdrawal."),
      h("li", {}, "Epoch reports with a “verify” button that re-checks a settlement from public data."),
    ),
    h("p", {}, "Until then, ", h("code", {}, "timbre verify --epoch N"), " checks an epoch from the command line once settlement runs."),
  ),
});

export const notFoundPage: Page = () => ({
  title: "Page not found",
  el: h(
    "div",
    { class: "page narrow" },
    h("h1", {}, "Page not found"),
    h("p", {}, "There is no page at this address. ", h("a", { href: "/" }, "Go to the voice catalogue"), "."),
  ),
});
