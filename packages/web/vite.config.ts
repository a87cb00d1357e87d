import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";

/** Writes .gz and .br beside each text file of the build: the server sends them as they are (preCompressed). */
function precompress(): Plugin {
  let outDir = "dist";
  return {
    name: "vi-precompress",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    writeBundle() {
      const walk = (dir: string): string[] =>
        readdirSync(dir).flatMap((name) => {
          const path = join(dir, name);
          return statSync(path).isDirectory() ? walk(path) : [path];
        });
      for (const file of walk(outDir).filter((f) => /\.(js|css|html|svg|json)$/.test(f))) {
        const bytes = readFileSync(file);
        writeFileSync(`${file}.gz`, gzipSync(bytes, { level: 9 }));
        writeFileSync(`${file}.br`, brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
      }
    },
  };
}

/**
 * The gallery is served by the Vi server from packages/web/dist at `/`. Assets get content
 * hashes in their names (the server marks /assets/* immutable); nothing is inlined as a data:
 * URL or an inline script, so the server's Content-Security-Policy can forbid both.
 */
export default defineConfig({
  plugins: [react(), precompress()],
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
