// Pages not built yet say so plainly (no placeholder figures).

import type { Page } from "../router";
import { h } from "../ui/dom";

export const soonPage: Page = () => ({
  title: "Platforms — coming soon",
  el: h(
    "div",
    { class: "page narrow" },
    h("h1", {}, "Streaming platforms ", h("span", { class: "badge soon" }, "Coming soon")),
    h(
      "p",
      { class: "lead" },
      "The platform console is not available in the web app yet: API keys, the channel's balance " +
        "and pending liability, funding and withdrawal, and usage per track.",
    ),
    h("p", {}, "Platforms use the API meanwhile: see the ", h("a", { href: "/docs" }, "API documentation"), "."),
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
