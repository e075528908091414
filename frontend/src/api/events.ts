// Job progress as Server-Sent Events read with fetch (EventSource cannot send the bearer
// token). A dropped stream resumes with Last-Event-ID; if it cannot, the job is polled.

import { api, authHeader, readError, reportUnauthorized } from "./client";
import { ApiError } from "./errors";
import { TERMINAL, type Job, type JobEvent } from "./types";

const RETRY_MS = 1000;
const MAX_RETRIES = 5;

function parseBlock(block: string): { id: string | null; data: string | null } {
  let id: string | null = null;
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue; // comment (keep-alive)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "id") id = value;
    else if (field === "data") data.push(value);
  }
  return { id, data: data.length ? data.join("\n") : null };
}

async function streamOnce(
  jobId: string,
  lastId: string | null,
  onEvent: (e: JobEvent) => void,
  signal: AbortSignal,
): Promise<{ lastId: string | null; finished: boolean }> {
  const headers: Record<string, string> = { Accept: "text/event-stream", ...authHeader() };
  if (lastId) headers["Last-Event-ID"] = lastId;
  const res = await fetch(`/v1/jobs/${encodeURIComponent(jobId)}/events`, { headers, signal });
  if (!res.ok || !res.body) {
    reportUnauthorized(res.status);
    throw await readError(res);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let finished = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let cut: number;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const { id, data } = parseBlock(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
      if (id) lastId = id;
      if (data) {
        const event = JSON.parse(data) as JobEvent;
        onEvent(event);
        if (TERMINAL.has(event.status)) finished = true;
      }
    }
  }
  return { lastId, finished };
}

/** Follow a job to its end; resolves with its final state. A stream that ends cleanly (a
 * proxy timeout, a server restart) is resumed for as long as the job runs; only repeated
 * failures give up. */
export async function followJob(
  jobId: string,
  onEvent: (e: JobEvent) => void,
  signal: AbortSignal,
): Promise<Job> {
  let lastId: string | null = null;
  let failures = 0;
  for (;;) {
    try {
      const r = await streamOnce(jobId, lastId, onEvent, signal);
      lastId = r.lastId;
      failures = 0;
      if (r.finished) return api.job(jobId);
    } catch (err) {
      const refused = err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 429;
      if (signal.aborted || refused || ++failures > MAX_RETRIES) throw err;
    }
    // The stream also ends when the job ended before we connected: ask for its state.
    const job = await api.job(jobId);
    if (TERMINAL.has(job.status)) return job;
    await new Promise((r) => setTimeout(r, RETRY_MS * (failures + 1)));
  }
}
