import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

/**
 * The gallery is served by the Vi server from packages/web/dist at `/`. Assets get content
 * hashes in their names (the server marks /assets/* immutable); nothing is inlined as a data:
 * URL or an inline script, so the server's Content-Security-Policy can forbid both.
 */
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: {
    // `npm run dev -w @vi/web` against a server on :8080 (VI_DEV_API to change it).
    proxy: Object.fromEntries(
      ["/workspaces", "/files", "/thumbnails", "/uploads"].map((p) => [
        p,
        process.env.VI_DEV_API ?? "http://127.0.0.1:8080",
      ]),
    ),
  },
});
