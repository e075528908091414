// Entry point: load the studio's public configuration, restore the session, start the shell.

import "./styles.css";
import { api } from "./api/client";
import { describe } from "./api/errors";
import { startApp } from "./app";
import { restoreSession } from "./session";
import { h } from "./ui/dom";

async function boot(): Promise<void> {
  const root = document.getElementById("app");
  if (!root) return;
  try {
    const cfg = await api.config();
    await restoreSession(cfg);
    startApp(root, cfg);
  } catch (err) {
    root.append(
      h(
        "main",
        { id: "main", class: "page narrow" },
        h("h1", {}, "Timbre is not reachable"),
        h("p", { role: "alert" }, describe(err)),
        h("p", {}, "Reload the page to try again."),
      ),
    );
  }
}

void boot();
