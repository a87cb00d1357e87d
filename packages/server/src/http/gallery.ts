import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import fastifyStatic from "@fastify/static";

/**
 * The web gallery (packages/web, docs/web.md): its build served as static files at `/`. Hashed
 * files under /assets/ are immutable; index.html answers the app's own routes (never an API
 * path) and is revalidated on every load. Without a build, `/` says how to make one.
 */

/** Where `npm run build` puts the gallery: packages/web/dist beside this package (VI_WEB_DIR overrides). */
export function defaultGalleryDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VI_WEB_DIR) return resolve(env.VI_WEB_DIR);
  return resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "web", "dist");
}

/** The app's routes (wouter's, in packages/web/src/App.tsx): only these fall back to index.html. */
export const GALLERY_ROUTES = ["/", "/sign-in", "/datasets", "/datasets/*"] as const;

/**
 * Scripts and styles only from this origin (no inline script, no eval); images and API calls
 * to this origin (thumbnails and files are signed URLs of this server) and to `storeOrigins`
 * (with an S3 store those URLs redirect to the bucket, and uploads go straight to it); no frames,
 * no plugins.
 */
export function galleryCsp(storeOrigins: readonly string[] = []): string {
  const store = storeOrigins.map((o) => ` ${o}`).join("");
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' blob:${store}`,
    `connect-src 'self'${store}`,
    "font-src 'self'",
    "manifest-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "object-src 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** The policy of a server whose bytes are all its own (the local store). */
export const GALLERY_CSP = galleryCsp();

function secure(reply: FastifyReply, csp: string): FastifyReply {
  return reply
    .header("content-security-policy", csp)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("x-frame-options", "DENY")
    .header("cross-origin-opener-policy", "same-origin");
}

export async function registerGallery(
  app: FastifyInstance,
  dir = defaultGalleryDir(),
  storeOrigins: readonly string[] = [],
): Promise<void> {
  const csp = galleryCsp(storeOrigins);
  const indexFile = join(dir, "index.html");
  const built = existsSync(indexFile);
  const index = built ? readFileSync(indexFile, "utf8") : undefined;
  if (built) {
    await app.register(fastifyStatic, {
      root: dir,
      prefix: "/",
      // Routes for the files the build holds now (a rebuild needs a restart): no catch-all that could shadow the API.
      wildcard: false,
      index: false,
      decorateReply: false,
      dotfiles: "deny",
      // The build writes .br and .gz beside each file (packages/web/vite.config.ts).
      preCompressed: true,
      allowedPath: (path) => path !== "/index.html",
      cacheControl: false,
      setHeaders: (res, path) => {
        // Vite puts a content hash in every name under assets/: a file never changes under its name.
        const hashed = path.startsWith(join(dir, "assets") + sep);
        res.setHeader("cache-control", hashed ? "public, max-age=31536000, immutable" : "public, max-age=3600");
        res.setHeader("content-security-policy", csp);
        res.setHeader("x-content-type-options", "nosniff");
      },
    });
  }
  for (const route of GALLERY_ROUTES) {
    app.get(route, { schema: { hide: true } }, async (_request, reply) => {
      secure(reply, csp);
      if (index === undefined)
        return reply
          .code(404)
          .type("text/html; charset=utf-8")
          .send(
            "<!doctype html><title>Vi</title><h1>The gallery is not built</h1>" +
              "<p>Run <code>npm run build</code> (it builds packages/web) and restart the server. " +
              "The API is served all the same: see <a href=/docs>/docs</a>.</p>",
          );
      return reply.type("text/html; charset=utf-8").header("cache-control", "no-cache").send(index);
    });
  }
}
