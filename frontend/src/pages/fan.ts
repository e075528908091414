// Fan studio: upload a vocal (and optional accompaniment) → pick a licensed voice and accept
// its terms → key and settings → convert with live progress → A/B original vs converted.

import { api, idempotencyKey } from "../api/client";
import { ApiError } from "../api/errors";
import type { Upload, Voice } from "../api/types";
import { abPlayer, type AbPlayer } from "../components/abPlayer";
import { jobProgress } from "../components/jobProgress";
import { notice } from "../components/notice";
import { baseUnitsToDollars } from "../domain/money";
import { termsSummary } from "../components/termsSummary";
import { trackStatusBadge, trackStatusText } from "../components/trackStatus";
import { uploader } from "../components/uploader";
import { waveform, type Waveform } from "../components/waveform";
import type { Page } from "../router";
import { hasRole, session } from "../session";
import { clear, h, shortAddress, uid } from "../ui/dom";
import { needRole, needSignIn } from "./gate";

const TITLE = "Fan studio";

interface Track {
  upload: Upload;
  url: string; // object URL of the local file
  wave: Waveform;
}

function slider(
  label: string,
  help: string,
  o: { min: number; max: number; step: number; value: number; format(v: number): string; name: string },
): { el: HTMLElement; input: HTMLInputElement } {
  const id = uid(o.name);
  const helpId = uid("help");
  const input = h("input", {
    id,
    name: o.name,
    type: "range",
    min: o.min,
    max: o.max,
    step: o.step,
    value: o.value,
    "aria-describedby": helpId,
  });
  const out = h("output", { for: id, class: "share-value" }, o.format(o.value));
  const sync = () => {
    out.textContent = o.format(Number(input.value));
    input.setAttribute("aria-valuetext", o.format(Number(input.value)));
  };
  input.addEventListener("input", sync);
  sync();
  return {
    el: h("div", { class: "share-row" }, h("label", { for: id }, label), input, out, h("p", { id: helpId, class: "hint" }, help)),
    input,
  };
}

export const fanPage: Page = ({ cfg, params }) => {
  if (!session()) {
    return needSignIn(TITLE, `/fan${location.search}`, "Sign in with your wallet to make tracks with licensed voices.");
  }
  if (!hasRole("fan")) {
    return needRole(
      TITLE,
      "fan",
      "Fans upload a vocal, pick a licensed voice and convert it; every play of the track pays the artist and you.",
    );
  }
  let disposed = false;
  const urls: string[] = [];
  let vocal: Track | null = null;
  let backing: Track | null = null;
  let voice: Voice | null = null;
  const accepted = new Map<string, number>(); // voice id → accepted terms version
  let ab: AbPlayer | null = null;

  // --- 1. vocal and accompaniment ---------------------------------------------------------
  const vocalSlot = h("div", { class: "track-slot" });
  const backingSlot = h("div", { class: "track-slot" });
  const setTrack = (slot: HTMLElement, label: string, upload: Upload, file: File, old: Track | null): Track => {
    old?.wave.destroy();
    clear(slot);
    const url = URL.createObjectURL(file);
    urls.push(url);
    const wave = waveform(label, slot === vocalSlot ? "a" : "b");
    slot.append(wave.el);
    void wave.load(url);
    return { upload, url, wave };
  };
  const removeBacking = h("button", { type: "button", class: "button small", hidden: true }, "Remove accompaniment");
  removeBacking.addEventListener("click", () => {
    backing?.wave.destroy();
    backing = null;
    clear(backingSlot);
    removeBacking.hidden = true;
    update();
  });

  const inputs = h(
    "section",
    { class: "card", "aria-labelledby": "vocal-title" },
    h("h2", { id: "vocal-title" }, "1. Your vocal"),
    uploader({
      label: "Vocal (WAV, FLAC, OGG or MP3)",
      hint: "A dry vocal works best: speech or singing without music behind it.",
      multiple: false,
      buttonText: "Upload vocal",
      maxBytes: cfg.max_upload_bytes,
      onUploaded: (u, file) => {
        vocal = setTrack(vocalSlot, `Your vocal: ${file.name}`, u, file, vocal);
        update();
      },
    }),
    vocalSlot,
    h("h3", {}, "Accompaniment (optional)"),
    uploader({
      label: "Accompaniment (WAV, FLAC, OGG or MP3)",
      hint: "The backing track, mixed under the converted vocal.",
      multiple: false,
      buttonText: "Upload accompaniment",
      maxBytes: cfg.max_upload_bytes,
      onUploaded: (u, file) => {
        backing = setTrack(backingSlot, `Accompaniment: ${file.name}`, u, file, backing);
        removeBacking.hidden = false;
        update();
      },
    }),
    backingSlot,
    removeBacking,
  );

  // --- 2. voice and terms -----------------------------------------------------------------
  const voiceMsg = notice();
  const voiceGroup = uid("voice");
  const voiceOptions = h("div", { class: "voice-options", "aria-busy": "true" }, h("p", { class: "hint" }, "Loading voices…"));
  const termsBox = h("div", { class: "terms-box" });
  const acceptButton = h("button", { type: "button", class: "button primary", hidden: true }, "Accept terms");
  const acceptState = h("p", { class: "accept-state", "aria-live": "polite" });
  const showVoice = () => {
    clear(termsBox);
    acceptState.textContent = "";
    if (!voice?.terms) {
      acceptButton.hidden = true;
      return;
    }
    termsBox.append(h("h3", {}, `Terms of ${voice.name}`), termsSummary(voice.terms, cfg.token_decimals));
    const done = accepted.get(voice.id) === voice.terms.version;
    acceptButton.hidden = done;
    acceptButton.textContent = `Accept terms v${voice.terms.version} of ${voice.name}`;
    if (done) acceptState.textContent = `✓ You accepted terms v${voice.terms.version} of ${voice.name}.`;
  };
  acceptButton.addEventListener("click", async () => {
    if (!voice?.terms) return;
    acceptButton.disabled = true;
    voiceMsg.clear();
    try {
      const r = await api.acceptTerms(voice.id, voice.terms.version);
      accepted.set(voice.id, r.terms_version);
    } catch (err) {
      if (err instanceof ApiError && err.code === "terms_outdated") {
        voice = await api.voice(voice.id).catch(() => voice);
      }
      voiceMsg.error(err);
    } finally {
      acceptButton.disabled = false;
      showVoice();
      update();
    }
  });
  api
    .voices()
    .then((voices) => {
      if (disposed) return;
      clear(voiceOptions);
      voiceOptions.removeAttribute("aria-busy");
      if (!voices.length) {
        voiceOptions.append(h("p", { class: "empty" }, "No voices are licensed yet. Check the catalogue later."));
        return;
      }
      const wanted = params.get("voice");
      const fieldset = h("fieldset", { class: "voice-choices" }, h("legend", {}, "Voice"));
      for (const v of voices) {
        const id = uid("voice-choice");
        const radio = h("input", { type: "radio", name: voiceGroup, id, value: v.id, checked: v.id === wanted });
        radio.addEventListener("change", () => {
          voice = v;
          showVoice();
          update();
        });
        if (v.id === wanted) voice = v;
        const price = v.terms ? ` · $${baseUnitsToDollars(v.terms.price_per_play, cfg.token_decimals)} per play` : "";
        fieldset.append(
          h(
            "div",
            { class: "choice voice-choice" },
            radio,
            h("label", { for: id }, h("strong", {}, v.name), h("span", { class: "hint" }, ` by ${shortAddress(v.creator_address)}${price}`)),
          ),
        );
      }
      voiceOptions.append(fieldset);
      showVoice();
      update();
    })
    .catch((err) => voiceMsg.error(err));

  const voiceSection = h(
    "section",
    { class: "card", "aria-labelledby": "pick-title" },
    h("h2", { id: "pick-title" }, "2. Choose a voice and accept its terms"),
    voiceOptions,
    termsBox,
    h("div", { class: "row" }, acceptButton),
    acceptState,
    voiceMsg.el,
  );

  // --- 3. settings ------------------------------------------------------------------------
  const transpose = slider("Key (transpose)", "Shift the pitch in semitones; 12 is one octave.", {
    name: "transpose",
    min: -12,
    max: 12,
    step: 1,
    value: 0,
    format: (v) => (v === 0 ? "original key" : `${v > 0 ? "+" : "−"}${Math.abs(v)} semitone${Math.abs(v) === 1 ? "" : "s"}`),
  });
  const indexRate = slider("Voice likeness (index rate)", "Higher sounds more like the artist; lower keeps more of your own timbre.", {
    name: "index-rate",
    min: 0,
    max: 1,
    step: 0.05,
    value: 0.35, // the service's default (voice_model.model.DEFAULT_INDEX_RATE)
    format: (v) => `${Math.round(v * 100)} %`,
  });
  const protect = slider("Protect consonants and breaths", "Keeps unvoiced sounds from your original; 0 turns it off.", {
    name: "protect",
    min: 0,
    max: 0.5,
    step: 0.01,
    value: 0.33,
    format: (v) => v.toFixed(2),
  });
  const settings = h(
    "section",
    { class: "card", "aria-labelledby": "settings-title" },
    h("h2", { id: "settings-title" }, "3. Key and settings"),
    h("fieldset", { class: "shares" }, h("legend", { class: "visually-hidden" }, "Conversion settings"), transpose.el, indexRate.el, protect.el),
  );

  // --- 4. convert -------------------------------------------------------------------------
  const convertMsg = notice();
  const convertButton = h("button", { type: "button", class: "button primary", disabled: true }, "Convert");
  const missing = h("ul", { class: "hint missing", "aria-live": "polite" });
  const progress = jobProgress("Conversion");
  const resultBox = h("div", { class: "result" });
  function update(): void {
    const needs: string[] = [];
    if (!vocal) needs.push("Upload your vocal.");
    if (!voice) needs.push("Choose a voice.");
    else if (!voice.terms || accepted.get(voice.id) !== voice.terms.version) needs.push("Accept the voice's terms.");
    clear(missing);
    needs.forEach((n) => missing.append(h("li", {}, n)));
    convertButton.disabled = needs.length > 0;
  }
  convertButton.addEventListener("click", async () => {
    if (!vocal || !voice) return;
    convertMsg.clear();
    convertButton.disabled = true;
    ab?.destroy();
    ab = null;
    clear(resultBox);
    const original = vocal.url;
    try {
      const job = await api.createJob(
        {
          kind: "convert",
          upload_id: vocal.upload.id,
          voice_model_id: voice.id,
          transpose: Number(transpose.input.value),
          index_rate: Number(indexRate.input.value),
          protect: Number(protect.input.value),
          ...(backing ? { accompaniment_upload_id: backing.upload.id } : {}),
        },
        idempotencyKey(),
      );
      const final = await progress.follow(job);
      if (final?.status !== "succeeded" || disposed) return;
      const result = await api.jobResult(final.id);
      if (!result.url) throw new Error("The conversion finished but has no audio to download.");
      const res = await fetch(result.url);
      if (!res.ok) throw new Error("The converted audio could not be downloaded; try again.");
      const converted = URL.createObjectURL(await res.blob());
      urls.push(converted);
      ab = abPlayer(original, converted);
      resultBox.append(
        h("h3", {}, "Compare: A original, B converted"),
        ab.el,
        h("a", { class: "button", href: converted, download: `timbre-${voice.name}-${final.id.slice(0, 8)}.wav` }, "Download converted audio"),
      );
      resultBox.append(publishForm(final.id, voice));
      convertMsg.success(`Converted with ${voice.name}. Listen to A and B below.`);
    } catch (err) {
      convertMsg.error(err);
    } finally {
      update();
    }
  });
  // --- 5. publish, and the fan's tracks ---------------------------------------------------
  const tracksMsg = notice();
  const trackList = h("ul", { class: "voice-list", "aria-label": "Your tracks" });
  const loadTracks = () =>
    api
      .myTracks()
      .then((tracks) => {
        if (disposed) return;
        clear(trackList);
        if (!tracks.length) trackList.append(h("li", { class: "empty" }, "No tracks yet: convert a vocal, then publish it."));
        for (const t of tracks) {
          trackList.append(
            h(
              "li",
              { class: "card track-card" },
              h("h3", {}, h("a", { href: `/track?id=${encodeURIComponent(t.id)}` }, t.title)),
              h("p", {}, trackStatusBadge(t)),
              t.tx_hash ? h("p", { class: "hint mono" }, `Registration transaction ${shortAddress(t.tx_hash)}`) : null,
            ),
          );
        }
      })
      .catch((err) => tracksMsg.error(err));
  function publishForm(jobId: string, v: Voice): HTMLElement {
    const msg = notice();
    const id = uid("title");
    const title = h("input", { id, type: "text", maxlength: 200, autocomplete: "off", value: `My take in ${v.name}'s voice` });
    const button = h("button", { type: "submit", class: "button primary" }, "Publish track");
    const form = h(
      "form",
      { class: "publish", "aria-label": "Publish the converted track" },
      h("h3", {}, "Publish"),
      h(
        "p",
        {},
        v.terms?.approval_required
          ? "The creator approves each track before it is registered and can be played."
          : "The track is registered on-chain as a derivative of this voice; every play then pays the shares above.",
      ),
      h("div", { class: "field" }, h("label", { for: id }, "Track title"), title),
      h("div", { class: "row" }, button),
      msg.el,
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!title.value.trim()) {
        msg.error(new Error("Give the track a title."));
        title.focus();
        return;
      }
      button.disabled = true;
      try {
        const t = await api.publishTrack(jobId, title.value.trim());
        msg.success(`“${t.title}”: ${trackStatusText(t)}.`);
        void loadTracks();
      } catch (err) {
        msg.error(err);
        button.disabled = false;
      }
    });
    return form;
  }
  const tracks = h(
    "section",
    { class: "card", "aria-labelledby": "tracks-title" },
    h("h2", { id: "tracks-title" }, "Your tracks"),
    tracksMsg.el,
    trackList,
  );

  const convert = h(
    "section",
    { class: "card", "aria-labelledby": "convert-title" },
    h("h2", { id: "convert-title" }, "4. Convert"),
    missing,
    h("div", { class: "row" }, convertButton),
    progress.el,
    convertMsg.el,
    resultBox,
  );

  update();
  void loadTracks();
  const el = h("div", { class: "page" }, h("h1", {}, TITLE), h("div", { class: "stack" }, inputs, voiceSection, settings, convert, tracks));
  return {
    title: TITLE,
    el,
    destroy() {
      disposed = true;
      progress.stop();
      vocal?.wave.destroy();
      backing?.wave.destroy();
      ab?.destroy();
      urls.forEach((u) => URL.revokeObjectURL(u));
    },
  };
};
