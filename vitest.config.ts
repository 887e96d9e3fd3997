import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: ["proto", "proto/io", "control-plane", "player", "player/sim", "provisioning", "image", "scripts"],
  },
});
