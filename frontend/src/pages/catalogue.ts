// The public catalogue: voices open for new tracks, with their current terms.

import { api } from "../api/client";
import type { Voice } from "../api/types";
import { notice } from "../components/notice";
import { termsSummary } from "../components/termsSummary";
import type { Page } from "../router";
import { clear, h, shortAddress } from "../ui/dom";

export const cataloguePage: Page = ({ cfg }) => {
  const msg = notice();
  const list = h("ul", { class: "voice-grid", "aria-busy": "true" }, h("li", { class: "hint" }, "Loading voices…"));
  const tracks = h("ul", { class: "track-links", "aria-label": "Published tracks" }, h("li", { class: "hint" }, "Loading tracks…"));
  const el = h(
    "div",
    { class: "page" },
    h("h1", {}, "Voice catalogue"),
    h(
      "p",
      { class: "lead" },
      "Artists license their voices here on terms they signed. Pick one to make a track; every play " +
        "pays the artist, you and the platform their shares.",
    ),
    msg.el,
    list,
    h("h2", { class: "section-title" }, "Published tracks"),
    tracks,
  );
  api
    .publishedTracks()
    .then((ts) => {
      clear(tracks);
      if (!ts.length) tracks.append(h("li", { class: "empty" }, "No tracks are published yet."));
      ts.forEach((t) =>
        tracks.append(
          h("li", {}, h("a", { href: `/track?id=${encodeURIComponent(t.id)}` }, t.title), h("span", { class: "hint" }, ` by fan `, h("span", { class: "mono" }, shortAddress(t.fan_address)))),
        ),
      );
    })
    .catch((err) => msg.error(err));
  api
    .voices()
    .then((voices) => {
      clear(list);
      list.removeAttribute("aria-busy");
      if (!voices.length) {
        list.append(h("li", { class: "empty" }, "No voices are licensed yet. Creators: train a voice and sign its terms."));
      }
      voices.forEach((v) => list.append(voiceCard(v, cfg.token_decimals)));
    })
    .catch((err) => {
      clear(list);
      msg.error(err);
    });
  return { title: "Voice catalogue", el };
};

function voiceCard(v: Voice, decimals: number): HTMLElement {
  const titleId = `voice-${v.id}`;
  return h(
    "li",
    { class: "card voice-card", "aria-labelledby": titleId },
    h("h2", { id: titleId }, v.name),
    h("p", { class: "hint" }, `by `, h("span", { class: "mono" }, shortAddress(v.creator_address)), v.method ? ` · ${v.method} model` : ""),
    v.description ? h("p", {}, v.description) : null,
    v.terms ? termsSummary(v.terms, decimals) : h("p", {}, "No terms yet."),
    h("a", { class: "button primary", href: `/fan?voice=${encodeURIComponent(v.id)}` }, `Make a track with ${v.name}`),
  );
}
