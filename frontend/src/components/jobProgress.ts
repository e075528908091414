// Live progress of a training or conversion job, with a cancel button.

import { api } from "../api/client";
import { describe } from "../api/errors";
import { followJob } from "../api/events";
import type { Job } from "../api/types";
import { h } from "../ui/dom";
import { progressBar } from "./progress";

const STAGES: Record<string, string> = {
  queued: "Waiting for a worker…",
  requeued: "Waiting for a worker (retrying)…",
  starting: "Starting…",
  done: "Done",
  cancelled: "Cancelled",
  failed: "Failed",
};

function stageText(stage: string): string {
  return STAGES[stage] ?? stage.charAt(0).toUpperCase() + stage.slice(1).replace(/[_-]/g, " ");
}

export interface JobProgress {
  el: HTMLElement;
  /** Follows the job until it ends; resolves with its final state (never rejects). */
  follow(job: Job): Promise<Job | null>;
  /** Stop following (the page is going away); the job itself keeps running. */
  stop(): void;
}

export function jobProgress(label: string): JobProgress {
  const bar = progressBar(label);
  const cancel = h("button", { type: "button", class: "button", hidden: true }, "Cancel");
  const el = h("div", { class: "job-progress", hidden: true }, bar.el, cancel);
  let current: Job | null = null;
  let controller: AbortController | null = null;
  cancel.addEventListener("click", async () => {
    if (!current) return;
    cancel.disabled = true;
    try {
      await api.cancelJob(current.id);
    } catch (err) {
      bar.set(current.percent / 100, `Could not cancel: ${describe(err)}`);
      cancel.disabled = false;
    }
  });

  return {
    el,
    async follow(job) {
      current = job;
      el.hidden = false;
      cancel.hidden = false;
      cancel.disabled = false;
      bar.state("active");
      bar.set(job.percent / 100, stageText(job.stage));
      controller?.abort();
      controller = new AbortController();
      const signal = controller.signal;
      let final: Job | null = null;
      try {
        final = await followJob(
          job.id,
          (e) => bar.set(e.percent / 100, e.message || stageText(e.stage)),
          signal,
        );
      } catch (err) {
        if (signal.aborted) return null;
        bar.state("failed");
        bar.set(0, `Lost track of the job: ${describe(err)}`);
      }
      cancel.hidden = true;
      if (final) {
        if (final.status === "succeeded") {
          bar.state("done");
          bar.set(1, "Done");
        } else if (final.status === "failed") {
          bar.state("failed");
          bar.set(final.percent / 100, `Failed: ${final.error?.message ?? "the job stopped with an error."}`);
        } else {
          bar.state("failed");
          bar.set(final.percent / 100, "Cancelled");
        }
      }
      return final;
    },
    stop: () => controller?.abort(),
  };
}
