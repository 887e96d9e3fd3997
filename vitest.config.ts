import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: ["proto", "control-plane", "player", "provisioning", "image"],
  },
});
