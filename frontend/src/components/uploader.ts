// Choose audio files and upload them, each with its own progress bar.

import type { Upload } from "../api/types";
import { uploadFile } from "../api/upload";
import { describe } from "../api/errors";
import { formatBytes, formatDuration, h, uid } from "../ui/dom";
import { progressBar } from "./progress";

export interface UploaderOptions {
  label: string;
  hint: string;
  multiple: boolean;
  buttonText: string;
  maxBytes: number;
  onUploaded(upload: Upload, file: File): void;
}

export function uploader(o: UploaderOptions): HTMLElement {
  const inputId = uid("file");
  const hintId = uid("hint");
  const input = h("input", {
    id: inputId,
    type: "file",
    accept: "audio/*,.wav,.flac,.ogg,.mp3",
    multiple: o.multiple,
    "aria-describedby": hintId,
  });
  const button = h("button", { type: "submit", class: "button primary", disabled: true }, o.buttonText);
  const rows = h("ul", { class: "upload-rows", "aria-label": `Upload progress (${o.label})` });
  input.addEventListener("change", () => {
    button.disabled = !input.files?.length;
  });

  const form = h(
    "form",
    { class: "uploader" },
    h("label", { for: inputId }, o.label),
    h("p", { id: hintId, class: "hint" }, o.hint),
    h("div", { class: "row" }, input, button),
    rows,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const files = Array.from(input.files ?? []);
    if (!files.length) return;
    button.disabled = true;
    input.disabled = true;
    await Promise.all(files.map((file) => uploadOne(file, rows, o)));
    input.value = "";
    input.disabled = false;
  });
  return form;
}

async function uploadOne(file: File, rows: HTMLElement, o: UploaderOptions): Promise<void> {
  const bar = progressBar(file.name);
  const row = h("li", { class: "upload-row" }, bar.el);
  rows.append(row);
  if (file.size > o.maxBytes) {
    bar.state("failed");
    bar.set(0, `Too large: ${formatBytes(file.size)} (the limit is ${formatBytes(o.maxBytes)}).`);
    return;
  }
  bar.state("active");
  bar.set(0, "Uploading…");
  const handle = uploadFile(file, (f) => bar.set(f, f < 1 ? "Uploading…" : "Checking the audio…"));
  try {
    const upload = await handle.done;
    bar.state("done");
    bar.set(1, `Uploaded · ${formatDuration(upload.duration_s)} · ${formatBytes(upload.size_bytes)}`);
    o.onUploaded(upload, file);
  } catch (err) {
    bar.state("failed");
    bar.set(0, `Not uploaded: ${describe(err)}`);
  }
}
