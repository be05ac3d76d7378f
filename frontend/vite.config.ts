import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The API serves frontend/dist at "/" (same origin). During `npm run dev` the API is proxied so the
// app still talks to one origin. EXCHANGE_API points the dev proxy at a running `exchange up`.
const api = process.env.EXCHANGE_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 1000 },
  server: {
    port: 3000, // the terminal's port since the original exchange (`npm run dev`)
    proxy: {
      // changeOrigin false (the string shorthand sets it true): the API then sees the browser's Host, which
      // its same-site check compares with the Origin (the refresh cookie and the WebSocket need it)
      "/api": { target: api, changeOrigin: false },
      "/schema": { target: api, changeOrigin: false },
      "/ws": { target: api.replace(/^http/, "ws"), ws: true },
    },
  },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
