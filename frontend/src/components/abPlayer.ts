// A/B listening: the original and the converted audio on aligned waveforms, played together
// with one of them muted, so switching A ↔ B keeps the position.

import { h, uid } from "../ui/dom";
import { waveform } from "./waveform";

export interface AbPlayer {
  el: HTMLElement;
  ready: Promise<void>;
  destroy(): void;
}

export function abPlayer(originalUrl: string, convertedUrl: string): AbPlayer {
  const a = waveform("A — original", "a", false);
  const b = waveform("B — converted", "b", false);
  const group = uid("ab");
  let listening: "a" | "b" = "b";

  const apply = () => {
    a.ws.setMuted(listening !== "a");
    b.ws.setMuted(listening !== "b");
    a.el.dataset.audible = String(listening === "a");
    b.el.dataset.audible = String(listening === "b");
  };
  const choice = (value: "a" | "b", text: string) => {
    const id = uid("ab-choice");
    const input = h("input", { type: "radio", name: group, id, value, checked: value === listening });
    input.addEventListener("change", () => {
      listening = value;
      apply();
    });
    return h("span", { class: "choice" }, input, h("label", { for: id }, text));
  };
  const play = h("button", { type: "button", class: "button primary", disabled: true }, "Play A/B");
  const playing = () => a.ws.isPlaying() || b.ws.isPlaying();
  play.addEventListener("click", async () => {
    if (playing()) {
      a.ws.pause();
      b.ws.pause();
    } else {
      b.ws.setTime(a.ws.getCurrentTime());
      await Promise.all([a.ws.play(), b.ws.play()]);
    }
  });
  const label = () => {
    play.textContent = playing() ? "Pause A/B" : "Play A/B";
  };
  for (const w of [a, b]) {
    w.ws.on("play", label);
    w.ws.on("pause", label);
    w.ws.on("finish", label);
  }
  // Seeking either wave moves both.
  a.onSeek((t) => b.ws.setTime(Math.min(t, b.ws.getDuration())));
  b.onSeek((t) => a.ws.setTime(Math.min(t, a.ws.getDuration())));

  const el = h(
    "section",
    { class: "ab", "aria-label": "Compare original and converted" },
    a.el,
    b.el,
    h(
      "div",
      { class: "row ab-controls" },
      play,
      h(
        "fieldset",
        { class: "inline" },
        h("legend", {}, "Listen to"),
        choice("a", "A: original"),
        choice("b", "B: converted"),
      ),
    ),
  );
  apply();
  const ready = Promise.all([a.ready, b.ready]).then(() => {
    // One time scale for both: the shorter recording draws over a proportionally shorter row,
    // so the same moment sits at the same x in A and in B.
    const da = a.ws.getDuration();
    const db = b.ws.getDuration();
    const longest = Math.max(da, db) || 1;
    a.setWidthFraction(da / longest);
    b.setWidthFraction(db / longest);
    play.disabled = false;
    el.dataset.ready = "true";
  });
  void a.load(originalUrl);
  void b.load(convertedUrl);
  return {
    el,
    ready,
    destroy() {
      a.destroy();
      b.destroy();
    },
  };
}
