import { randomUUID } from "node:crypto";
import Fastify, { LogController, type FastifyInstance, type FastifySchemaCompiler } from "fastify";
import { AjvCompiler } from "@fastify/ajv-compiler";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { REQUEST_ID_HEADER } from "@vi/protocol";
import type { ServiceContext } from "./services/context.js";
import { multipartRoutes } from "./routes/bucket.js";
import { createServices, type Services } from "./services/services.js";
import { apiRoutes } from "./routes/api.js";
import { signedRoutes } from "./routes/signed.js";
import { errorHandler, sendError } from "./http/errors.js";
import { registerGallery } from "./http/gallery.js";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the HTTP app over the given stores; listening is the caller's business. */
export async function buildApp(
  ctx: ServiceContext,
  logger: boolean | object = false,
): Promise<{ app: FastifyInstance; services: Services }> {
  const level = typeof logger === "object" && logger !== null && "level" in logger ? String(logger.level) : "info";
  const app = Fastify({
    logger,
    // One line per request is for debugging: a 10,000-file upload would print 20,000.
    logController: new LogController({ disableRequestLogging: level !== "debug" && level !== "trace" }),
    // Manifests of 10,000 files are a few MB; everything else is small.
    bodyLimit: 1024 * 1024,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers[REQUEST_ID_HEADER];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Long-polls hold requests for up to five minutes.
    requestTimeout: 0,
    // Slow-header clients are dropped after headersTimeout, checked every second (Node's
    // default check runs every 30 s, long enough for a slow-header flood to exhaust descriptors).
    http: { headersTimeout: ctx.config.headersTimeoutSeconds * 1000, connectionsCheckingInterval: 1000 },
    keepAliveTimeout: 65_000,
  });
  const services = createServices(ctx);
  app.setValidatorCompiler(validatorCompiler());
  // Past this many open connections new ones are refused at once: descriptors never run out.
  app.server.maxConnections = ctx.config.maxConnections;
  ctx.log ??= app.log;
  // Bulk deletes a previous run left unfinished go on; none outlives the app.
  app.addHook("onReady", async () => {
    await services.deletions.resume();
    services.janitor.start();
    services.processing.start();
    services.stagingSweeper?.start();
    services.releaser.start();
  });
  app.addHook("onClose", async () => {
    await services.stagingSweeper?.close();
    await services.processing.close();
    await services.janitor.close();
    await services.deletions.close();
    // Last: what the others released while stopping is deleted too (bucket stores queue it).
    await services.releaser.close();
  });

  app.addHook("onRequest", async (request, reply) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    // The Python client reads its trace id from this header.
    void reply.header("x-cloud-trace-context", `${request.id}/0`);
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, {
      error: "ResourceNotFound",
      message: `No route for ${request.method} ${request.url.split("?")[0]}`,
    }),
  );
  // The Python client sends Content-Type: application/json on body-less GETs and DELETEs too.
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === "") return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(
        Object.assign(new Error(`Body is not valid JSON: ${(err as Error).message}`), { statusCode: 400 }),
        undefined,
      );
    }
  });

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Vi asset API",
        version: "0.1.0",
        description: "Self-hosted Vi: datasets, assets, uploads and downloads.",
      },
      components: {
        securitySchemes: {
          secretKey: { type: "http", scheme: "bearer", description: "dtvi_ + 98 characters" },
          organizationId: { type: "apiKey", in: "header", name: "Organization-Id" },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  app.get("/healthz", { schema: { hide: true } }, async () => ({ ok: true }));

  await app.register(apiRoutes(services, ctx.config));
  await app.register(signedRoutes(ctx, services));
  // With a bucket, thumbnails and files redirect to it and the gallery uploads straight to it.
  const storeOrigin = ctx.bucket
    ? new URL(await ctx.bucket.presignGet("0".repeat(64), Date.now() + 60_000, "probe", "image/jpeg")).origin
    : undefined;
  await registerGallery(app, undefined, storeOrigin ? [storeOrigin] : []);
  await app.register(multipartRoutes(ctx, services));
  return { app, services };
}

/**
 * Query strings and paths are text, so their validation coerces ("5" is the number 5). JSON
 * bodies are typed already and must not be coerced: custom metadata `{"iso": 200}` would
 * otherwise be validated against `string | number | boolean` and stored as the string "200".
 */
function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const factory = AjvCompiler();
  const base = { removeAdditional: false, allErrors: false } as const;
  const coercing = factory({}, { customOptions: { ...base, coerceTypes: "array" } });
  const exact = factory({}, { customOptions: { ...base, coerceTypes: false } });
  return (route) => {
    const definition = { ...route, schema: route.schema as object };
    return (route.httpPart === "body" ? exact(definition) : coercing(definition)) as ReturnType<
      FastifySchemaCompiler<unknown>
    >;
  };
}
