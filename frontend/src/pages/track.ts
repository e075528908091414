// A track's public page: what it is, whose voice, its on-chain registration, and (for its fan
// and the voice's creator) a player. Everyone else hears it as a paid play on a platform.

import { api } from "../api/client";
import type { Config, Track, Voice } from "../api/types";
import { notice } from "../components/notice";
import { trackPlayer, type TrackPlayer } from "../components/trackPlayer";
import { trackStatusBadge } from "../components/trackStatus";
import type { Page } from "../router";
import { session } from "../session";
import { append, clear, h, shortAddress } from "../ui/dom";

export const trackPage: Page = ({ cfg, params }) => {
  const id = params.get("id") ?? "";
  const msg = notice();
  const body = h("div", {}, h("p", { class: "hint" }, "Loading…"));
  const heading = h("h1", {}, "Track");
  let player: TrackPlayer | null = null;
  let disposed = false;
  const show = (t: Track, v: Voice | null) => {
    clear(body);
    heading.textContent = t.title;
    document.title = `${t.title} · Timbre`;
    const me = session()?.address.toLowerCase();
    const mayListen = me !== undefined && (me === t.fan_address.toLowerCase() || me === v?.creator_address.toLowerCase());
    if (mayListen) player = trackPlayer(t);
    append(
      body,
      h("p", {}, trackStatusBadge(t)),
      h(
        "dl",
        { class: "terms-summary" },
        ...row("Voice", v ? v.name : "—"),
        ...row("Voice creator", v ? h("span", { class: "mono", title: v.creator_address }, shortAddress(v.creator_address)) : "—"),
        ...row("Fan", h("span", { class: "mono", title: t.fan_address }, shortAddress(t.fan_address))),
        ...row("Published", t.published_at ? new Date(t.published_at).toLocaleString() : "not yet"),
      ),
      h("h2", {}, "Listen"),
      player
        ? player.el
        : h(
            "p",
            {},
            "Every play of a published track is paid for: listen on a streaming platform that uses Timbre. " +
              "The track's fan and the voice's creator can listen here when signed in.",
          ),
      h("h2", {}, "On-chain registration"),
      onChain(cfg, t),
    );
  };
  if (!/^[0-9a-f-]{36}$/i.test(id)) {
    clear(body);
    msg.error(new Error("This link names no track."));
  } else {
    api
      .track(id)
      .then(async (t) => {
        const v = await api.voice(t.voice_id).catch(() => null);
        if (!disposed) show(t, v);
      })
      .catch((err) => {
        clear(body);
        msg.error(err);
      });
  }
  return {
    title: "Track",
    el: h("div", { class: "page narrow" }, heading, msg.el, body),
    destroy() {
      disposed = true;
      player?.destroy();
    },
  };
};

function row(term: string, value: string | Node): Node[] {
  return [h("dt", {}, term), h("dd", {}, value)];
}

function onChain(cfg: Config, t: Track): HTMLElement {
  if (!t.onchain_id) return h("p", {}, "Not registered on-chain (yet).");
  return h(
    "dl",
    { class: "terms-summary onchain" },
    ...row("Track id (SHA-256 of the audio)", h("span", { class: "mono wrap" }, t.onchain_id)),
    ...row("Voice registry", cfg.contracts ? h("span", { class: "mono wrap" }, cfg.contracts.registry) : "—"),
    ...row("Registration transaction", t.tx_hash ? h("span", { class: "mono wrap" }, t.tx_hash) : "—"),
    ...row("Chain", String(cfg.chain_id)),
  );
}
