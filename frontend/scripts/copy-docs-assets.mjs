// Copies the Swagger UI files the API docs page (/docs, studio/routes/docs.py) loads from
// swagger-ui-dist (pinned in package.json) into dist/swagger-ui/, so the page works with no
// internet. Run by `npm run build` after `vite build` (which empties dist/). No source maps.
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const FILES = [
  "swagger-ui-bundle.js",
  "swagger-ui-bundle.js.LICENSE.txt",
  "swagger-ui.css",
  "favicon-32x32.png",
  "LICENSE",
  "NOTICE",
];

const require = createRequire(import.meta.url);
const source = dirname(require.resolve("swagger-ui-dist/package.json"));
const { version } = JSON.parse(readFileSync(join(source, "package.json"), "utf8"));
const target = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "swagger-ui");
mkdirSync(target, { recursive: true });
for (const name of FILES) {
  copyFileSync(join(source, name), join(target, name));
}
console.log(`swagger-ui-dist ${version}: ${FILES.length} files -> dist/swagger-ui/`);
