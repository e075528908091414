import { defineConfig } from "vite";

// The studio serves dist/ (studio/routes/web.py) under a strict Content-Security-Policy:
// no inline scripts, so no module-preload polyfill snippet; hashed files under assets/ get a
// long cache lifetime.
export default defineConfig({
  build: {
    outDir: "dist",
    assetsDir: "assets",
    modulePreload: { polyfill: false },
    target: "es2022",
    chunkSizeWarningLimit: 800,
  },
  server: {
    // `npm run dev` against a running `timbre run` on the default port.
    proxy: {
      "/v1": "http://127.0.0.1:8000",
    },
  },
});
