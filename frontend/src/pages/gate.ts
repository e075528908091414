// What a studio page shows before it can be used: sign in first, then opt in to the role.

import { notice } from "../components/notice";
import type { PageView } from "../router";
import { addRole } from "../session";
import { h } from "../ui/dom";

export function needSignIn(title: string, path: string, why: string): PageView {
  return {
    title,
    el: h(
      "div",
      { class: "page narrow" },
      h("h1", {}, title),
      h("p", { class: "lead" }, why),
      h("a", { class: "button primary", href: `/sign-in?next=${encodeURIComponent(path)}` }, "Sign in to continue"),
    ),
  };
}

export function needRole(title: string, role: "creator" | "fan", why: string): PageView {
  const msg = notice();
  const button = h("button", { type: "button", class: "button primary" }, `Start as a ${role}`);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await addRole(role); // the session change re-renders the page
    } catch (err) {
      msg.error(err);
      button.disabled = false;
    }
  });
  return {
    title,
    el: h("div", { class: "page narrow" }, h("h1", {}, title), h("p", { class: "lead" }, why), button, msg.el),
  };
}
