// A fan track's state in words.

import type { Track } from "../api/types";
import { h } from "../ui/dom";

const TEXT: Record<string, string> = {
  draft: "Being registered on-chain",
  pending_approval: "Waiting for the creator's approval",
  published: "Published — registered on-chain",
  rejected: "Rejected by the creator",
  retired: "Retired — no new plays",
};

export function trackStatusText(t: Track): string {
  return TEXT[t.status] ?? t.status;
}

export function trackStatusBadge(t: Track): HTMLElement {
  return h("span", { class: `badge track-${t.status}`, "data-track-status": t.status }, trackStatusText(t));
}
