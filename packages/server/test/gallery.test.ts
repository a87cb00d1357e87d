import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { GALLERY_CSP, galleryCsp, registerGallery } from "../src/http/gallery.js";

/**
 * The gallery's static serving: index.html for the app's routes only, hashed assets immutable
 * and precompressed, the CSP on both, nothing shadowing other paths, and a helpful 404 at `/`
 * when packages/web has not been built.
 */
describe("serving the web gallery", () => {
  const dirs: string[] = [];
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  const serve = async (files: Record<string, string>) => {
    const dir = await mkdtemp(join(tmpdir(), "vi-gallery-"));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) {
      await mkdir(join(dir, name, ".."), { recursive: true });
      await writeFile(join(dir, name), text);
    }
    app = Fastify();
    app.get("/workspaces", async () => ({ api: true }));
    await registerGallery(app, dir);
    return app;
  };

  it("answers the app's routes with index.html, revalidated, under a strict CSP", async () => {
    const a = await serve({ "index.html": "<!doctype html><div id=root></div>", "assets/app-abc123.js": "x" });
    for (const url of ["/", "/sign-in", "/datasets", "/datasets/d1", "/datasets/d1/assets/a1?q=x"]) {
      const res = await a.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body).toContain("<div id=root>");
      expect(res.headers["cache-control"]).toBe("no-cache");
      expect(res.headers["content-security-policy"]).toBe(GALLERY_CSP);
    }
    expect(GALLERY_CSP).toContain("script-src 'self'");
    expect(GALLERY_CSP).not.toMatch(/unsafe-(inline|eval)/);
  });

  it("lets images and requests reach the bucket's origin when bytes live in S3, and nothing else", () => {
    const csp = galleryCsp(["https://vi-assets.s3.eu-west-1.amazonaws.com"]);
    const directive = (name: string) => csp.split("; ").find((d) => d.startsWith(`${name} `));
    expect(directive("img-src")).toBe("img-src 'self' blob: https://vi-assets.s3.eu-west-1.amazonaws.com");
    expect(directive("connect-src")).toBe("connect-src 'self' https://vi-assets.s3.eu-west-1.amazonaws.com");
    expect(directive("script-src")).toBe("script-src 'self'");
    expect(GALLERY_CSP).not.toContain("amazonaws");
  });

  it("serves hashed assets immutable, precompressed when the client takes it", async () => {
    const a = await serve({
      "index.html": "<!doctype html>",
      "assets/app-abc123.js": "console.log(1)",
      "assets/app-abc123.js.gz": "gzipped",
    });
    const plain = await a.inject({ url: "/assets/app-abc123.js" });
    expect(plain.statusCode).toBe(200);
    expect(plain.body).toBe("console.log(1)");
    expect(plain.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    const gz = await a.inject({ url: "/assets/app-abc123.js", headers: { "accept-encoding": "gzip" } });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gz.body).toBe("gzipped");
  });

  it("shadows nothing: other paths keep their routes or answer 404", async () => {
    const a = await serve({ "index.html": "<!doctype html>" });
    expect((await a.inject({ url: "/workspaces" })).json()).toEqual({ api: true });
    expect((await a.inject({ url: "/nowhere" })).statusCode).toBe(404);
    expect((await a.inject({ url: "/index.html" })).statusCode).toBe(404);
    expect((await a.inject({ url: "/assets/missing.js" })).statusCode).toBe(404);
    expect((await a.inject({ method: "POST", url: "/datasets" })).statusCode).toBe(404);
  });

  it("without a build, `/` says how to make one (and the server still starts)", async () => {
    const a = await serve({});
    const res = await a.inject({ url: "/" });
    expect(res.statusCode).toBe(404);
    expect(res.body).toContain("npm run build");
  });
});
