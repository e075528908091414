import { defineConfig } from "vitest/config";

// Unit and component tests (`npm test`): domain rules in plain Node, components in happy-dom.
export default defineConfig({
  test: {
    environment: "happy-dom",
    include: ["test/**/*.test.ts"],
  },
});
