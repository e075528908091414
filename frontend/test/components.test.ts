import { afterEach, describe, expect, it, vi } from "vitest";
import { setToken } from "../src/api/client";
import type { Upload } from "../src/api/types";
import { progressBar } from "../src/components/progress";
import { sharesSliders } from "../src/components/sharesSliders";
import { uploader } from "../src/components/uploader";

describe("progress bar", () => {
  it("exposes its value to assistive technology and in words", () => {
    const bar = progressBar("Training");
    document.body.append(bar.el);
    bar.set(0.426, "Extracting features");
    const track = bar.el.querySelector("[role=progressbar]")!;
    expect(track.getAttribute("aria-valuenow")).toBe("43");
    expect(track.getAttribute("aria-valuetext")).toBe("43 % — Extracting features");
    expect(bar.el.textContent).toContain("43 % · Extracting features");
    bar.set(7, "Done");
    expect(track.getAttribute("aria-valuenow")).toBe("100");
  });
});

describe("shares sliders", () => {
  it("moving one slider keeps the total at 100 %", () => {
    const s = sharesSliders([5000, 4000, 1000]);
    document.body.append(s.el);
    const [creator, fan] = Array.from(s.el.querySelectorAll<HTMLInputElement>("input[type=range]"));
    creator!.value = "7000";
    creator!.dispatchEvent(new Event("input"));
    expect(s.value()).toEqual([7000, 3000, 0]);
    fan!.value = "1000";
    fan!.dispatchEvent(new Event("input"));
    expect(s.value()).toEqual([7000, 1000, 2000]);
    const outputs = Array.from(s.el.querySelectorAll("output")).map((o) => o.textContent);
    expect(outputs).toEqual(["70 %", "10 %", "20 %"]);
    expect(s.el.textContent).toContain("Total: 100 %");
    for (const input of s.el.querySelectorAll("input")) {
      expect(s.el.querySelector(`label[for="${input.id}"]`)).not.toBeNull();
    }
  });
});

/** An XMLHttpRequest stand-in: reports upload progress, then answers `status` + `body`. */
function fakeXhr(status: number, body: unknown, headers: Record<string, string>[]) {
  return class {
    upload = new EventTarget();
    status = 0;
    responseText = "";
    responseType = "";
    private events = new EventTarget();
    open(method: string, url: string) {
      expect([method, url]).toEqual(["POST", "/v1/uploads"]);
    }
    setRequestHeader(name: string, value: string) {
      headers.push({ [name]: value });
    }
    addEventListener(type: string, fn: EventListener) {
      this.events.addEventListener(type, fn);
    }
    abort() {}
    send(form: FormData) {
      expect(form.get("file")).toBeInstanceOf(File);
      const progress = (loaded: number) =>
        Object.assign(new Event("progress"), { lengthComputable: true, loaded, total: 100 });
      this.upload.dispatchEvent(progress(40));
      this.upload.dispatchEvent(progress(100));
      this.status = status;
      this.responseText = JSON.stringify(body);
      this.events.dispatchEvent(new Event("load"));
    }
  };
}

describe("uploader", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    setToken(null);
  });

  const upload: Upload = {
    id: "u1",
    sha256: "ab".repeat(32),
    size_bytes: 2048,
    filename: "take.wav",
    format: "wav",
    duration_s: 12.4,
    sample_rate: 16000,
    channels: 1,
    created_at: "2026-11-25T12:00:00Z",
  };

  function mount(onUploaded: (u: Upload) => void) {
    const el = uploader({
      label: "Recordings",
      hint: "Audio files",
      multiple: true,
      buttonText: "Upload",
      maxBytes: 1_000_000,
      onUploaded,
    });
    document.body.append(el);
    const input = el.querySelector<HTMLInputElement>("input[type=file]")!;
    const file = new File([new Uint8Array(2048)], "take.wav", { type: "audio/wav" });
    Object.defineProperty(input, "files", { value: [file], configurable: true });
    input.dispatchEvent(new Event("change"));
    return el;
  }

  it("sends the file with the session token and reports the stored upload", async () => {
    const headers: Record<string, string>[] = [];
    vi.stubGlobal("XMLHttpRequest", fakeXhr(201, upload, headers));
    setToken("tok");
    const uploaded = vi.fn();
    const el = mount(uploaded);
    const button = el.querySelector<HTMLButtonElement>("button[type=submit]")!;
    expect(button.disabled).toBe(false);
    el.dispatchEvent(new Event("submit", { cancelable: true }));
    await vi.waitFor(() => expect(uploaded).toHaveBeenCalledOnce());
    expect(uploaded.mock.calls[0]![0]).toEqual(upload);
    expect(headers).toContainEqual({ Authorization: "Bearer tok" });
    const bar = el.querySelector("[role=progressbar]")!;
    expect(bar.getAttribute("aria-valuenow")).toBe("100");
    expect(el.textContent).toContain("Uploaded · 0:12 · 2 KB");
  });

  it("shows the API's message in words, never the raw body", async () => {
    const error = { error: { code: "not_audio", message: "This file is not audio we can read.", detail: {} } };
    vi.stubGlobal("XMLHttpRequest", fakeXhr(422, error, []));
    const uploaded = vi.fn();
    const el = mount(uploaded);
    el.dispatchEvent(new Event("submit", { cancelable: true }));
    await vi.waitFor(() => expect(el.textContent).toContain("Not uploaded: This file is not audio we can read."));
    expect(uploaded).not.toHaveBeenCalled();
    expect(el.textContent).not.toContain("{");
  });

  it("refuses a file over the size limit before sending it", async () => {
    const sent = vi.fn();
    vi.stubGlobal("XMLHttpRequest", class { constructor() { sent(); } });
    const el = uploader({ label: "R", hint: "h", multiple: false, buttonText: "Upload", maxBytes: 10, onUploaded: vi.fn() });
    document.body.append(el);
    const input = el.querySelector<HTMLInputElement>("input[type=file]")!;
    Object.defineProperty(input, "files", { value: [new File([new Uint8Array(64)], "big.wav")] });
    el.dispatchEvent(new Event("submit", { cancelable: true }));
    await vi.waitFor(() => expect(el.textContent).toContain("Too large"));
    expect(sent).not.toHaveBeenCalled();
  });
});
