// Measures the header probe over 10,000 small PNGs (the cost the chunk CRC check adds to every upload).
// Run from the repository root after `npm run build`: node test-fixtures/images/probe-cases/bench-png-probe.mjs
// PROBE_MODULE=/path/to/media/index.js compares another build of the probe (e.g. the one before the CRC check).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, deflateSync } from "node:zlib";
const { probeImageBytes, probeImageFile } = await import(
  process.env.PROBE_MODULE ?? "../../../packages/server/dist/media/index.js"
);

const COUNT = Number(process.env.COUNT ?? 10_000);

function chunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** An RGB PNG of noise-ish rows (so it does not compress to nothing): a few KB to a few tens of KB. */
function png(width, height, seed) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const raw = Buffer.alloc((width * 3 + 1) * height);
  let state = seed;
  for (let i = 0; i < raw.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    raw[i] = i % (width * 3 + 1) === 0 ? 0 : (state >>> 24) & 0x3f;
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const dir = await mkdtemp(join(tmpdir(), "vi-png-bench-"));
try {
  const files = [];
  let bytes = 0;
  for (let i = 0; i < COUNT; i++) {
    const side = 16 + (i % 113);
    const data = png(side, side, i + 1);
    bytes += data.length;
    const path = join(dir, `${i}.png`);
    await writeFile(path, data);
    files.push({ path, data });
  }
  // One warm-up pass so the JIT and the page cache are settled, then the best of three timed passes.
  const run = async (label, probe) => {
    for (const file of files.slice(0, 500)) await probe(file);
    let best = Infinity;
    for (let pass = 0; pass < 3; pass++) {
      const started = process.hrtime.bigint();
      for (const file of files) await probe(file);
      best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e6);
    }
    console.log(`${label}: ${best.toFixed(0)} ms for ${COUNT} files (${((best * 1000) / COUNT).toFixed(1)} us/file)`);
  };
  console.log(`${COUNT} PNGs, ${(bytes / COUNT / 1024).toFixed(1)} KiB on average`);
  await run("probeImageFile ", (file) => probeImageFile(file.path));
  await run("probeImageBytes", (file) => probeImageBytes(file.data));
} finally {
  await rm(dir, { recursive: true, force: true });
}
