// Follows docs/deployment.md on one machine: PostgreSQL, an S3-compatible store (s3rver standing in),
// two replicas (vi-cli serve), nginx in front with docs/deploy/nginx.conf (apt-get install nginx);
// then the CLI uploads, lists and downloads through nginx. Run after npm run build:
//   node docs/deploy/local-check.mjs
import { spawn, spawnSync, execFileSync } from "node:child_process";
import { once } from "node:events";
import { setTimeout } from "node:timers/promises";
import { existsSync, mkdirSync, readFileSync, writeFileSync, cpSync, rmSync, readdirSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { tmpdir } from "node:os";
import pg from "pg";
import { startPostgres } from "../../test/services/postgres.mjs";
import { startS3TestServer } from "../../test/services/s3.mjs";
import { S3Client, CreateBucketCommand } from "@aws-sdk/client-s3";
const ROOT = join(import.meta.dirname, "..", "..");
const W = join(tmpdir(), "vi-deployment-check");
const CLI = join(ROOT, "packages/cli/dist/bin.js");
mkdirSync(W, { recursive: true });
rmSync(join(W, "r1"), { recursive: true, force: true });
rmSync(join(W, "r2"), { recursive: true, force: true });
rmSync(join(W, "down"), { recursive: true, force: true });
const db = await startPostgres();
const s3 = await startS3TestServer();
const procs = [];
try {
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query("create role vi login password 'secret'");
  await admin.query("create database vi owner vi");
  await admin.end();
  const url = db.url.replace("postgres@", "vi:secret@").replace(/\/postgres$/, "/vi");
  const c = new S3Client({
    endpoint: s3.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  await c.send(new CreateBucketCommand({ Bucket: "vi-assets" }));
  const env = {
    ...process.env,
    VI_DATABASE_URL: url,
    VI_S3_BUCKET: "vi-assets",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    VI_S3_ENDPOINT: s3.endpoint,
    VI_S3_FORCE_PATH_STYLE: "true",
    VI_PUBLIC_URL: "http://127.0.0.1:8099",
  };
  const start = async (name, port) => {
    mkdirSync(join(W, name), { recursive: true });
    const p = spawn(process.execPath, [CLI, "serve", "--host", "127.0.0.1", "--port", String(port)], {
      cwd: join(W, name),
      env: { ...env, VI_DATA_DIR: join(W, name, "vi-data") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    procs.push(p);
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    for (let i = 0; i < 200 && !/Press Ctrl-C|listening/i.test(out); i++) await setTimeout(100);
    console.log(
      `--- ${name}:`,
      out
        .split("\n")
        .filter(
          (l) =>
            l &&
            !/Warning|versions|node >=22|continue receiving|security updates|information can|trace-warnings/.test(l),
        )
        .join("\n   "),
    );
  };
  await start("r1", 8091);
  await start("r2", 8092);
  const conf = readFileSync(join(ROOT, "docs/deploy/nginx.conf"), "utf8")
    .replace("10.0.0.11:8080", "127.0.0.1:8091")
    .replace("10.0.0.12:8080", "127.0.0.1:8092")
    .replace("listen 80;", "listen 127.0.0.1:8099;");
  writeFileSync(
    join(W, "nginx.conf"),
    `pid ${W}/nginx.pid; error_log ${W}/nginx-error.log; events {} http { access_log ${W}/access.log; client_body_temp_path ${W}/nb; proxy_temp_path ${W}/np; ${conf} }`,
  );
  rmSync(join(W, "access.log"), { force: true });
  execFileSync("nginx", ["-c", join(W, "nginx.conf"), "-p", W]);
  const creds = JSON.parse(readFileSync(join(W, "r1", "vi-data", "credentials.json"), "utf8"));
  console.log(
    "r1 credentials:",
    { ...creds, secretKey: creds.secretKey.slice(0, 6) + "..." },
    "r2 has credentials.json:",
    readdirSync(join(W, "r2", "vi-data")).includes("credentials.json"),
  );
  const cliEnv = {
    ...process.env,
    DATATURE_VI_API_ENDPOINT: "http://127.0.0.1:8099",
    DATATURE_VI_ORGANIZATION_ID: creds.organizationId,
    DATATURE_VI_SECRET_KEY: creds.secretKey,
  };
  const cli = (args) => execFileSync(process.execPath, [CLI, ...args], { env: cliEnv, encoding: "utf8", cwd: W });
  const ds = JSON.parse(cli(["datasets", "create", "deploy-check", "--json"]));
  const src = join(W, "images");
  rmSync(src, { recursive: true, force: true });
  cpSync(join(ROOT, "test-fixtures/images/valid"), src, { recursive: true });
  console.log(cli(["assets", "upload", ds.datasetId, src, "--wait-processing"]).trim());
  console.log("listed:", cli(["assets", "list", ds.datasetId, "--json"]).length, "bytes of JSON");
  console.log(cli(["assets", "download", ds.datasetId, join(W, "down")]).trim());
  const sha = (p) => createHash("sha256").update(readFileSync(p)).digest("hex");
  const sources = readdirSync(src, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  const same = sources.filter((e) => {
    const rel = join(e.parentPath, e.name).slice(src.length + 1);
    return existsSync(join(W, "down", rel)) && sha(join(src, rel)) === sha(join(W, "down", rel));
  }).length;
  const files = sources.length;
  console.log(`downloaded files identical to the sources: ${same}/${files}`);
  const log = readFileSync(join(W, "access.log"), "utf8").trim().split("\n");
  console.log("requests through nginx:", log.length);
} finally {
  // nginx may not have started (a start-up failure above): then there is nothing to stop.
  spawnSync("nginx", ["-c", join(W, "nginx.conf"), "-p", W, "-s", "stop"], { stdio: "ignore" });
  for (const p of procs) {
    p.kill("SIGTERM");
    await once(p, "exit").catch(() => {});
  }
  await s3.stop();
  await db.stop();
}
