import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/**
 * Builds the console into `console/dist`, which the control plane serves under `/`.
 * `npm run -w @avtech/control-plane dev:console` serves it with hot reload and proxies the API
 * (gRPC-Web and the `/v1/videos` HTTP endpoints) to AVTECH_API_URL (default http://127.0.0.1:8080).
 */
const apiUrl = process.env.AVTECH_API_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  root: import.meta.dirname,
  base: "./",
  plugins: [react()],
  // Hashed files go to /console-assets/: /assets/<sha256> is the screens' media route.
  build: {
    outDir: "dist",
    assetsDir: "console-assets",
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      "^/avtech\\.": { target: apiUrl, changeOrigin: true },
      "/v1/videos": { target: apiUrl, changeOrigin: true },
    },
  },
});
