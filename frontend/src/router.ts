// History-API routing: the studio answers every non-API path with index.html.

import type { Config } from "./api/types";

export interface PageContext {
  cfg: Config;
  params: URLSearchParams;
  navigate(path: string): void;
}

export interface PageView {
  title: string;
  el: HTMLElement;
  destroy?(): void;
}

export type Page = (ctx: PageContext) => PageView;

export function currentPath(): string {
  return location.pathname.replace(/\/+$/, "") || "/";
}

/** Same-origin link clicks change the route without a reload. */
export function interceptLinks(root: HTMLElement, navigate: (path: string) => void): void {
  root.addEventListener("click", (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element).closest("a");
    if (!a || a.target || a.hasAttribute("download")) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith("/v1/") || url.pathname.startsWith("/docs")) return;
    if (url.pathname === location.pathname && url.hash) return; // in-page anchor (skip link)
    e.preventDefault();
    navigate(url.pathname + url.search);
  });
}
