// Creator studio: reference recordings → train a voice → sign its terms → approve fan tracks
// (when the terms ask for it) → (retire).

import { api, idempotencyKey } from "../api/client";
import { TERMINAL, type Config, type Job, type Track, type Upload, type Voice } from "../api/types";
import { jobProgress } from "../components/jobProgress";
import { notice } from "../components/notice";
import { termsForm } from "../components/termsForm";
import { termsSummary } from "../components/termsSummary";
import { trackPlayer, type TrackPlayer } from "../components/trackPlayer";
import { trackStatusText } from "../components/trackStatus";
import { uploader } from "../components/uploader";
import type { Page } from "../router";
import { hasRole, session, signingWallet } from "../session";
import { clear, formatBytes, formatDuration, h, shortAddress, uid } from "../ui/dom";
import { fromJson } from "../wallet/wallet";
import { needRole, needSignIn } from "./gate";

const TITLE = "Creator studio";
const STATUS_TEXT: Record<string, string> = {
  draft: "Not trained (training failed or was cancelled)",
  training: "Training",
  ready: "Trained — set terms to open it to fans",
  registered: "Licensed — in the catalogue",
  retired: "Retired — takes no new tracks",
};

export const creatorPage: Page = ({ cfg }) => {
  if (!session()) {
    return needSignIn(TITLE, "/creator", "Sign in with your wallet to train your voice and license it to fans.");
  }
  if (!hasRole("creator")) {
    return needRole(
      TITLE,
      "creator",
      "Creators upload recordings of their own voice, train a voice model and sign the royalty terms fans accept.",
    );
  }
  let disposed = false;
  const selected = new Set<string>();

  // --- 1. reference recordings ------------------------------------------------------------
  const uploadsMsg = notice();
  const uploadList = h("ul", { class: "upload-list", "aria-label": "Your recordings" });
  const preview = h("audio", { controls: true, preload: "none", class: "preview", "aria-label": "Recording preview" });
  const previewTitle = h("p", { class: "hint", "aria-live": "polite" }, "Choose “Listen” on a recording to hear it here.");
  const renderUploads = (uploads: Upload[]) => {
    clear(uploadList);
    if (!uploads.length) uploadList.append(h("li", { class: "empty" }, "No recordings yet."));
    for (const u of uploads) uploadList.append(uploadRow(u));
    updateTrainButton();
  };
  const uploadRow = (u: Upload) => {
    const id = uid("use");
    const box = h("input", { id, type: "checkbox", checked: selected.has(u.id), "data-upload": u.id });
    box.addEventListener("change", () => {
      if (box.checked) selected.add(u.id);
      else selected.delete(u.id);
      updateTrainButton();
    });
    const listen = h("button", { type: "button", class: "button small" }, "Listen");
    const name = u.filename ?? u.sha256.slice(0, 12);
    listen.setAttribute("aria-label", `Listen to ${name}`);
    listen.addEventListener("click", async () => {
      try {
        const { url } = await api.uploadUrl(u.id);
        preview.src = url;
        previewTitle.textContent = `Playing ${name}`;
        await preview.play();
      } catch (err) {
        uploadsMsg.error(err);
      }
    });
    return h(
      "li",
      { class: "upload-item" },
      box,
      h("label", { for: id }, h("span", { class: "name" }, name), h("span", { class: "hint" }, ` ${formatDuration(u.duration_s)} · ${u.format.toUpperCase()} · ${formatBytes(u.size_bytes)}`)),
      listen,
    );
  };
  const loadUploads = () =>
    api
      .uploads()
      .then((u) => !disposed && renderUploads(u))
      .catch((err) => uploadsMsg.error(err));

  const recordings = h(
    "section",
    { class: "card", "aria-labelledby": "rec-title" },
    h("h2", { id: "rec-title" }, "1. Reference recordings"),
    h(
      "p",
      {},
      "Upload recordings of your own voice: clean speech or singing, a few minutes in total, " +
        "no music behind it. Tick the ones to train on.",
    ),
    uploader({
      label: "Recordings (WAV, FLAC, OGG or MP3)",
      hint: `Up to ${formatBytes(cfg.max_upload_bytes)} and ${Math.round(cfg.max_upload_duration_s / 60)} minutes each. You can pick several files.`,
      multiple: true,
      buttonText: "Upload",
      maxBytes: cfg.max_upload_bytes,
      onUploaded: (u) => {
        selected.add(u.id);
        void loadUploads();
      },
    }),
    h("h3", {}, "Your recordings"),
    uploadList,
    preview,
    previewTitle,
    uploadsMsg.el,
  );

  // --- 2. train ---------------------------------------------------------------------------
  const trainMsg = notice();
  const nameId = uid("voice-name");
  const nameInput = h("input", { id: nameId, type: "text", required: true, maxlength: 120, autocomplete: "off" });
  const methodId = uid("method");
  const method = h(
    "select",
    { id: methodId },
    h("option", { value: "baseline" }, "Fast (baseline) — about a minute"),
    h("option", { value: "neural" }, "Best quality (neural) — several minutes"),
  );
  const modeId = uid("mode");
  const mode = h(
    "select",
    { id: modeId },
    h("option", { value: "speech" }, "Speech"),
    h("option", { value: "singing" }, "Singing"),
  );
  const trainButton = h("button", { type: "submit", class: "button primary", disabled: true }, "Train voice");
  const trainHint = h("p", { class: "hint", "aria-live": "polite" });
  const progress = jobProgress("Training");
  function updateTrainButton(): void {
    trainButton.disabled = selected.size === 0;
    trainHint.textContent = selected.size
      ? `${selected.size} recording${selected.size === 1 ? "" : "s"} selected.`
      : "Upload or tick at least one recording first.";
  }
  const trainForm = h(
    "form",
    { class: "card", "aria-labelledby": "train-title" },
    h("h2", { id: "train-title" }, "2. Train a voice"),
    h("div", { class: "field" }, h("label", { for: nameId }, "Voice name"), nameInput),
    h(
      "div",
      { class: "grid2" },
      h("div", { class: "field" }, h("label", { for: methodId }, "Training method"), method),
      h("div", { class: "field" }, h("label", { for: modeId }, "Material"), mode),
    ),
    h("div", { class: "row" }, trainButton),
    trainHint,
    progress.el,
    trainMsg.el,
  );
  const watchTraining = async (job: Job, name: string) => {
    const final = await progress.follow(job);
    if (disposed) return;
    if (final?.status === "succeeded") {
      trainMsg.success(`“${name}” is trained. Set its terms below to open it to fans.`);
    }
    updateTrainButton();
    void loadVoices();
  };
  trainForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    trainMsg.clear();
    const name = nameInput.value.trim();
    if (!name) {
      trainMsg.error(new Error("Give the voice a name."));
      nameInput.focus();
      return;
    }
    trainButton.disabled = true;
    try {
      const job = await api.createJob(
        {
          kind: "train",
          upload_ids: [...selected],
          name,
          method: method.value as "baseline" | "neural",
          mode: mode.value as "speech" | "singing",
        },
        idempotencyKey(),
      );
      void loadVoices();
      nameInput.value = "";
      await watchTraining(job, name);
    } catch (err) {
      trainMsg.error(err);
      updateTrainButton();
    }
  });
  // Training that was started before this page opened (another tab, a reload) is followed too.
  const resumeTraining = () =>
    Promise.all([api.jobs(), api.myVoices()])
      .then(([jobs, vs]) => {
        const running = jobs.find((j) => j.kind === "train" && !TERMINAL.has(j.status));
        if (!running || disposed) return;
        const name = vs.find((v) => v.id === running.voice_model_id)?.name ?? "Your voice";
        void watchTraining(running, name);
      })
      .catch((err) => trainMsg.error(err));

  // --- 3. voices and terms ----------------------------------------------------------------
  const voicesMsg = notice();
  const voiceList = h("ul", { class: "voice-list", "aria-label": "Your voices" });
  const loadVoices = () =>
    api
      .myVoices()
      .then((vs) => {
        if (disposed) return;
        clear(voiceList);
        if (!vs.length) voiceList.append(h("li", { class: "empty" }, "No voices yet: train one above."));
        vs.forEach((v) => voiceList.append(voiceCard(cfg, v)));
      })
      .catch((err) => voicesMsg.error(err));

  const voiceCard = (c: Config, v: Voice) => {
    const titleId = uid("voice");
    const card = h(
      "li",
      { class: "card voice-card", "aria-labelledby": titleId, "data-voice-status": v.status },
      h("h3", { id: titleId }, v.name),
      h(
        "p",
        {},
        h("span", { class: `badge status-${v.status}` }, STATUS_TEXT[v.status] ?? v.status),
        v.method ? h("span", { class: "hint" }, ` · ${v.method} model`) : null,
      ),
      v.terms ? termsSummary(v.terms, c.token_decimals) : null,
    );
    if (v.status === "ready" || v.status === "registered") {
      const details = h(
        "details",
        { class: "terms-details", open: v.status === "ready" },
        h("summary", {}, v.terms ? "Change terms" : "Set terms"),
        termsForm(c, v, (_t, text) => {
          voicesMsg.success(text);
          void loadVoices();
        }),
      );
      card.append(details);
    }
    if (v.status === "registered") {
      const retire = h("button", { type: "button", class: "button danger" }, "Retire voice");
      let armed = false;
      retire.addEventListener("click", async () => {
        if (!armed) {
          armed = true;
          retire.textContent = "Confirm: retire (no new tracks)";
          return;
        }
        retire.disabled = true;
        try {
          await api.retire(v.id);
          voicesMsg.success(`“${v.name}” is retired: it takes no new tracks; existing tracks keep earning.`);
          void loadVoices();
        } catch (err) {
          voicesMsg.error(err);
          retire.disabled = false;
        }
      });
      card.append(h("div", { class: "row" }, retire));
    }
    return card;
  };

  const voices = h(
    "section",
    { class: "card", "aria-labelledby": "voices-title" },
    h("h2", { id: "voices-title" }, "3. Your voices and their terms"),
    h(
      "p",
      {},
      "Your terms are an EIP-712 message signed by your wallet and registered on-chain; they apply " +
        "from the next settlement epoch, never retroactively.",
    ),
    voicesMsg.el,
    voiceList,
  );

  // --- 4. fan tracks waiting for approval --------------------------------------------------
  const approvalsMsg = notice();
  const approvalList = h("ul", { class: "voice-list", "aria-label": "Tracks waiting for your approval" });
  let players: TrackPlayer[] = [];
  const loadApprovals = () =>
    api
      .approvals()
      .then((tracks) => {
        if (disposed) return;
        players.forEach((p) => p.destroy());
        players = [];
        clear(approvalList);
        if (!tracks.length) approvalList.append(h("li", { class: "empty" }, "No fan tracks are waiting for you."));
        tracks.forEach((t) => approvalList.append(approvalCard(t)));
      })
      .catch((err) => approvalsMsg.error(err));
  const approvalCard = (t: Track) => {
    const approve = h("button", { type: "button", class: "button primary" }, "Approve and sign");
    const reject = h("button", { type: "button", class: "button danger" }, "Reject");
    approve.setAttribute("aria-label", `Approve “${t.title}” and sign`);
    reject.setAttribute("aria-label", `Reject “${t.title}”`);
    const act = async (fn: () => Promise<Track>) => {
      approve.disabled = reject.disabled = true;
      approvalsMsg.clear();
      try {
        const done = await fn();
        approvalsMsg.success(`“${done.title}”: ${trackStatusText(done)}.`);
        void loadApprovals();
      } catch (err) {
        approvalsMsg.error(err);
        approve.disabled = reject.disabled = false;
      }
    };
    approve.addEventListener("click", () =>
      void act(async () => {
        const wallet = await signingWallet();
        const req = await api.approvalRequest(t.id);
        approvalsMsg.info(`Waiting for your signature (${wallet.label})…`);
        const signature = await wallet.signTypedData(fromJson(req.typed_data));
        return api.approveTrack(t.id, req.deadline, signature);
      }),
    );
    reject.addEventListener("click", () => void act(() => api.rejectTrack(t.id)));
    const player = trackPlayer(t);
    players.push(player);
    return h(
      "li",
      { class: "card track-card" },
      h("h3", {}, t.title),
      h("p", { class: "hint" }, "by fan ", h("span", { class: "mono" }, shortAddress(t.fan_address)), ` · ${new Date(t.created_at).toLocaleString()}`),
      player.el,
      h("div", { class: "row" }, approve, reject),
    );
  };
  const approvals = h(
    "section",
    { class: "card", "aria-labelledby": "approvals-title" },
    h("h2", { id: "approvals-title" }, "4. Fan tracks waiting for your approval"),
    h("p", {}, "Only voices whose terms require approval send tracks here. Approving signs an EIP-712 message with your wallet; the track is then registered on-chain."),
    approvalsMsg.el,
    approvalList,
  );

  void loadUploads();
  void loadVoices();
  void loadApprovals();
  void resumeTraining();
  updateTrainButton();
  const el = h(
    "div",
    { class: "page" },
    h("h1", {}, TITLE),
    h("div", { class: "stack" }, recordings, trainForm, voices, approvals),
  );
  return {
    title: TITLE,
    el,
    destroy() {
      disposed = true;
      progress.stop();
      preview.pause();
      players.forEach((p) => p.destroy());
    },
  };
};
