// A fan track's player: a keyboard-driven waveform of its audio, fetched through a short-lived
// URL that only the track's fan and the voice's creator may ask for.

import { api } from "../api/client";
import type { Track } from "../api/types";
import { waveform } from "./waveform";
import { h } from "../ui/dom";

export interface TrackPlayer {
  el: HTMLElement;
  destroy(): void;
}

export function trackPlayer(t: Track): TrackPlayer {
  const wave = waveform(`“${t.title}”`, "b", true);
  const problem = h("p", { class: "notice notice-error", role: "alert", hidden: true });
  api
    .trackAudio(t.id)
    .then(({ url }) => wave.load(url))
    .catch((err: unknown) => {
      problem.textContent = err instanceof Error ? err.message : "The audio could not be loaded.";
      problem.hidden = false;
    });
  return { el: h("div", { class: "track-player" }, wave.el, problem), destroy: () => wave.destroy() };
}
