import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { mkdtemp, readdir, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { crc32c } from "@node-rs/crc32";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiPaths, type Asset, type IngestionSession } from "@vi/protocol";
import { fsck } from "@vi/server";
import { uniqueJpeg } from "../helpers/jpeg.mjs";
import { startServerProcess, type ServerProcess } from "../helpers/server-process.mjs";
import { embeddedOnly } from "../helpers/test-database.mjs";
import { localOnly } from "../helpers/s3-bucket.mjs";

/**
 * A disk that fills up, as the server process sees it: a preloaded shim makes every write to a
 * regular file under the data dir fail with ENOSPC while a flag file exists (write, pwrite,
 * writev, pwritev and fallocate, from SQLite and from Node's fs alike). Nothing in the server
 * is mocked; only the kernel's answer is. (A real full file system needs a mount, which this
 * sandbox does not allow.)
 */
const SHIM = String.raw`
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static int full(int fd) {
  const char *flag = getenv("VI_ENOSPC_FLAG"), *dir = getenv("VI_ENOSPC_DIR");
  if (!flag || !dir) return 0;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || access(flag, F_OK) != 0) return 0;
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return 0;
  target[n] = 0;
  return strncmp(target, dir, strlen(dir)) == 0;
}

#define WRAP(ret, name, params, args) \
  ret name params { \
    static ret (*real) params; \
    if (!real) real = (ret (*) params) dlsym(RTLD_NEXT, #name); \
    if (full(fd)) { errno = ENOSPC; return -1; } \
    return real args; \
  }

WRAP(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n))
WRAP(ssize_t, pwrite, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
WRAP(ssize_t, pwrite64, (int fd, const void *b, size_t n, off64_t o), (fd, b, n, o))
WRAP(ssize_t, writev, (int fd, const struct iovec *v, int c), (fd, v, c))
WRAP(ssize_t, pwritev, (int fd, const struct iovec *v, int c, off_t o), (fd, v, c, o))
WRAP(ssize_t, pwritev64, (int fd, const struct iovec *v, int c, off64_t o), (fd, v, c, o))
WRAP(ssize_t, pwritev2, (int fd, const struct iovec *v, int c, off_t o, int f), (fd, v, c, o, f))
WRAP(int, fallocate, (int fd, int m, off_t o, off_t l), (fd, m, o, l))
WRAP(int, fallocate64, (int fd, int m, off64_t o, off64_t l), (fd, m, o, l))
`;

/** Compiles the shim; undefined where there is no C compiler. */
function buildShim(): string | undefined {
  try {
    const dir = mkdtempSync(join(tmpdir(), "vi-enospc-"));
    writeFileSync(join(dir, "enospc.c"), SHIM);
    const out = join(dir, "enospc.so");
    const cc = spawnSync("cc", ["-shared", "-fPIC", "-O2", "-o", out, join(dir, "enospc.c"), "-ldl"]);
    return cc.status === 0 ? out : undefined;
  } catch {
    return undefined;
  }
}

const shim = process.platform === "linux" ? buildShim() : undefined;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe.skipIf(
  !shim ||
    embeddedOnly("the ENOSPC shim fills the disk under the SQLite file; PostgreSQL is elsewhere") ||
    localOnly("fills the local disk under the blob store"),
)("a disk that fills up under a running server (ENOSPC from the kernel's calls)", () => {
  let home: string;
  let dataDir: string;
  let flag: string;
  let server: ServerProcess | undefined;
  let datasetId: string;
  let session: IngestionSession;
  const files = new Map<string, Buffer>([
    ["a.jpg", uniqueJpeg(60_000)],
    ["b.jpg", uniqueJpeg(61_000)],
    ["big-1.jpg", uniqueJpeg(12_000_000)],
    ["big-2.jpg", uniqueJpeg(6_100_000)],
  ]);

  const headers = () => ({
    authorization: `Bearer ${server!.creds.secretKey}`,
    "organization-id": server!.creds.organizationId,
    "content-type": "application/json",
  });
  const org = () => server!.creds.organizationId;
  const api = (path: string, init: RequestInit = {}) => fetch(`${server!.url}${path}`, { ...init, headers: headers() });
  const put = (name: string) =>
    fetch(session.status.assets.find((a) => a.metadata.filename === name)!.upload.url, {
      method: "PUT",
      body: files.get(name)!,
    });
  const assets = async (): Promise<Asset[]> =>
    ((await (await api(`${apiPaths.assets(org(), datasetId)}?contents=y`)).json()) as { items: Asset[] }).items;
  const loggedFor = async (res: Response): Promise<Record<string, unknown>> => {
    const id = res.headers.get("x-request-id")!;
    for (;;) {
      const line = server!.output.find((l) => l.includes('"level":50') && l.includes(id));
      if (line) return JSON.parse(line) as Record<string, unknown>;
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  async function expectFull(res: Response, cause: RegExp) {
    expect(res.status).toBe(507);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = (await res.json()) as { error: string; message: string };
    expect(body).toMatchObject({
      error: "InsufficientStorage",
      message: expect.stringMatching(/disk is full/) as unknown,
    });
    expect(await loggedFor(res)).toMatchObject({
      storage: { kind: "full", code: expect.stringMatching(cause) as unknown },
    });
  }

  beforeAll(async () => {
    home = realpathSync(await mkdtemp(join(tmpdir(), "vi-disk-full-")));
    dataDir = join(home, "data");
    flag = join(home, "disk-is-full");
    server = await startServerProcess(dataDir, {
      LD_PRELOAD: shim!,
      VI_ENOSPC_FLAG: flag,
      VI_ENOSPC_DIR: dataDir,
      // Node's fs calls go through libc's write calls, not io_uring.
      UV_USE_IO_URING: "0",
      // Processing is off: fsck's counts below are of the uploaded bytes (no thumbnails).
      VI_PROCESSING_CONCURRENCY: "0",
    });
    const created = await api(apiPaths.datasets(org()), { method: "POST", body: JSON.stringify({ name: "full" }) });
    const id = ((await created.json()) as { datasetId: string }).datasetId;
    datasetId = id.includes("_") ? id.slice(id.indexOf("_") + 1) : id;
    const opened = await api(apiPaths.ingestionSessions(org(), datasetId), {
      method: "POST",
      body: JSON.stringify({
        spec: {
          kind: "Upload",
          failureMode: "FailAfterAll",
          assets: [...files].map(([filename, bytes]) => ({
            filename,
            mime: "image/jpeg",
            size: bytes.length,
            crc32c: crc32c(bytes) | 0,
            kind: "Image",
          })),
        },
      }),
    });
    session = (await opened.json()) as IngestionSession;
    expect((await put("a.jpg")).status).toBe(200);
  });
  afterAll(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
    await rm(dirname(shim!), { recursive: true, force: true });
  });

  it("while full: every write answers 507 with Retry-After (PUTs too, never a reset) and logs the real cause; reads work", async () => {
    await writeFile(flag, "");
    try {
      await expectFull(
        await api(apiPaths.datasets(org()), { method: "POST", body: JSON.stringify({ name: "x" }) }),
        /^SQLITE_FULL$/,
      );
      await expectFull(await put("b.jpg"), /^ENOSPC$/);
      // A large body fails mid-stream: the rest is read and dropped so the client gets the answer.
      await expectFull(await put("big-1.jpg"), /^ENOSPC$/);
      const [a] = await assets();
      await expectFull(await api(apiPaths.asset(org(), datasetId, a!.assetId), { method: "DELETE" }), /^SQLITE_FULL$/);
      await expectFull(
        await api(apiPaths.ingestionSessions(org(), datasetId), {
          method: "POST",
          body: JSON.stringify({
            spec: { kind: "Upload", assets: [{ filename: "z.jpg", size: 5, crc32c: 0, kind: "Image" }] },
          }),
        }),
        /^SQLITE_FULL$/,
      );
      // Reads need no space.
      expect((await assets()).map((x) => x.filename)).toEqual(["a.jpg"]);
      const got = Buffer.from(await (await fetch(a!.contents!.asset!.url)).arrayBuffer());
      expect(sha256(got)).toBe(sha256(files.get("a.jpg")!));
      // Nothing half-written is left behind.
      expect(await readdir(join(dataDir, "staging"))).toEqual([]);
    } finally {
      await unlink(flag);
    }
  });

  it("once space is back: the same PUTs commit, the session finishes, every asset reads back, and fsck finds nothing wrong", async () => {
    for (const name of ["b.jpg", "big-1.jpg", "big-2.jpg"]) expect((await put(name)).status, name).toBe(200);
    const path = apiPaths.ingestionSession(org(), datasetId, session.assetIngestionSessionId);
    const done = (await (await api(`${path}?waitFor=Finished&timeout=10`)).json()) as IngestionSession;
    expect(done.status.progressCount).toEqual({ total: 4, succeeded: 4, errored: 0 });
    expect((await api(apiPaths.datasets(org()), { method: "POST", body: JSON.stringify({ name: "y" }) })).status).toBe(
      201,
    );
    const listed = await assets();
    expect(listed.map((x) => x.filename).sort()).toEqual([...files.keys()].sort());
    for (const a of listed) {
      const got = Buffer.from(await (await fetch(a.contents!.asset!.url)).arrayBuffer());
      expect(sha256(got), a.filename).toBe(sha256(files.get(a.filename)!));
    }
    const a = listed.find((x) => x.filename === "a.jpg")!;
    expect((await api(apiPaths.asset(org(), datasetId, a.assetId), { method: "DELETE" })).status).toBe(204);
    await server!.stop();
    server = undefined;
    const report = await fsck({ dataDir });
    expect(report).toMatchObject({ clean: true, blobsChecked: 3, stagingFiles: 0 });
  });
});
