// The page for an address the app does not know.

import type { Page } from "../router";
import { h } from "../ui/dom";

export const notFoundPage: Page = () => ({
  title: "Page not found",
  el: h(
    "div",
    { class: "page narrow" },
    h("h1", {}, "Page not found"),
    h("p", {}, "There is no page at this address. ", h("a", { href: "/" }, "Go to the voice catalogue"), "."),
  ),
});
