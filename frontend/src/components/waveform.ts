// A waveform player (wavesurfer.js) that a keyboard can drive: the wave is a slider (arrow keys
// seek 5 s, Home/End jump) and play/pause is a real button.

import WaveSurfer from "wavesurfer.js";
import { formatDuration, h, uid } from "../ui/dom";

export interface Waveform {
  el: HTMLElement;
  ws: WaveSurfer;
  ready: Promise<void>;
  load(url: string): Promise<void>;
  /** Draw the wave over this fraction of the row (0..1): aligned time scales in A/B. */
  setWidthFraction(fraction: number): void;
  /** Called when a person seeks (pointer or keyboard), with the new time in seconds. */
  onSeek(listener: (t: number) => void): void;
  destroy(): void;
}

const SEEK_STEP_S = 5;

function cspNonce(): string | undefined {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]');
  const value = meta?.content;
  return value && !value.startsWith("__") ? value : undefined;
}

export function waveform(label: string, colour: "a" | "b" = "a", controls = true): Waveform {
  const titleId = uid("wave-title");
  const box = h("div", {
    class: "wave",
    role: "slider",
    tabindex: 0,
    "aria-labelledby": titleId,
    "aria-valuemin": 0,
    "aria-valuemax": 0,
    "aria-valuenow": 0,
    "aria-valuetext": "not loaded",
  });
  const time = h("span", { class: "wave-time", "aria-hidden": "true" }, "0:00 / 0:00");
  const play = h("button", { type: "button", class: "button", disabled: true }, "Play");
  const problem = h("p", { class: "notice notice-error", role: "alert", hidden: true });
  play.setAttribute("aria-label", `Play ${label}`);
  const el = h(
    "div",
    { class: `waveform waveform-${colour}` },
    h("div", { class: "wave-head" }, h("span", { id: titleId, class: "wave-title" }, label), time),
    box,
    problem,
    controls ? h("div", { class: "row" }, play) : null,
  );
  const styles = getComputedStyle(document.documentElement);
  const ws = WaveSurfer.create({
    container: box,
    height: 72,
    waveColor: styles.getPropertyValue(`--wave-${colour}`).trim() || "#6b7fd7",
    progressColor: styles.getPropertyValue(`--wave-${colour}-played`).trim() || "#2a3a8c",
    cursorColor: styles.getPropertyValue("--text").trim() || "#111",
    cursorWidth: 2,
    barWidth: 2,
    barGap: 1,
    normalize: true,
    dragToSeek: true,
    cspNonce: cspNonce(),
  });
  // The drawing (canvases in wavesurfer's shadow root) says nothing the slider's name and value
  // text do not: hidden from assistive technology, which would otherwise meet unnamed canvases.
  ws.getWrapper().setAttribute("aria-hidden", "true");
  const seekListeners: ((t: number) => void)[] = [];
  ws.on("interaction", (t) => seekListeners.forEach((l) => l(t)));
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (markReady = r));

  const update = () => {
    const t = ws.getCurrentTime();
    const d = ws.getDuration();
    time.textContent = `${formatDuration(t)} / ${formatDuration(d)}`;
    box.setAttribute("aria-valuemax", String(Math.round(d)));
    box.setAttribute("aria-valuenow", String(Math.round(t)));
    box.setAttribute("aria-valuetext", `${formatDuration(t)} of ${formatDuration(d)}`);
  };
  ws.on("ready", () => {
    play.disabled = false;
    el.dataset.ready = "true";
    update();
    markReady();
  });
  ws.on("timeupdate", update);
  ws.on("play", () => {
    play.textContent = "Pause";
    play.setAttribute("aria-label", `Pause ${label}`);
  });
  ws.on("pause", () => {
    play.textContent = "Play";
    play.setAttribute("aria-label", `Play ${label}`);
  });
  play.addEventListener("click", () => void ws.playPause());
  box.addEventListener("keydown", (e) => {
    const d = ws.getDuration();
    if (!d) return;
    const t = ws.getCurrentTime();
    const to: Record<string, number> = {
      ArrowLeft: t - SEEK_STEP_S,
      ArrowDown: t - SEEK_STEP_S,
      ArrowRight: t + SEEK_STEP_S,
      ArrowUp: t + SEEK_STEP_S,
      Home: 0,
      End: d,
    };
    if (e.key in to) {
      e.preventDefault();
      const target = Math.max(0, Math.min(d, to[e.key]!));
      ws.setTime(target);
      seekListeners.forEach((l) => l(target));
    } else if (e.key === " " || e.key === "Enter") {
      e.preventDefault();
      void ws.playPause();
    }
  });

  return {
    el,
    ws,
    ready,
    async load(url) {
      el.dataset.ready = "false";
      problem.hidden = true;
      try {
        await ws.load(url);
      } catch {
        problem.textContent = `${label}: this audio could not be loaded or decoded by the browser.`;
        problem.hidden = false;
      }
    },
    onSeek: (l) => seekListeners.push(l),
    setWidthFraction(fraction) {
      box.style.width = `${Math.max(0.05, Math.min(1, fraction)) * 100}%`;
    },
    destroy: () => ws.destroy(),
  };
}
