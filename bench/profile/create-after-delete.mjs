#!/usr/bin/env node
// How much creating a file costs on this filesystem, in a fresh folder and again right after
// as many files were deleted (as the benchmarks do: `rm -r` of the last run's copy or data
// folder seconds before the next upload). ext4 without a journal skips inodes freed in the
// last 60 s when it allocates (fs/ext4/ialloc.c recently_deleted), reading their inode table
// blocks to find out. Each round: create `files` empty files (open wx + close, sequential),
// then delete them; system CPU and wall time per create.
//
//   node bench/profile/create-after-delete.mjs [files=10000] [rounds=3]
import { mkdir, open, rm } from "node:fs/promises";
import { join } from "node:path";
import { TMP } from "../lib.mjs";

const files = Number(process.argv[2] ?? 10_000);
const rounds = Number(process.argv[3] ?? 3);
for (let r = 1; r <= rounds; r++) {
  const dir = join(TMP, `create-${process.pid}-${r}`);
  await mkdir(dir, { recursive: true });
  const cpu0 = process.resourceUsage();
  const t0 = performance.now();
  for (let i = 0; i < files; i++) await (await open(join(dir, `f-${i}`), "wx", 0o600)).close();
  const ms = performance.now() - t0;
  const cpu1 = process.resourceUsage();
  const per = (us) => Math.round((us / files) * 10) / 10;
  console.log(
    JSON.stringify({
      round: r,
      files,
      wallUsPerCreate: per(ms * 1000),
      systemUsPerCreate: per(cpu1.systemCPUTime - cpu0.systemCPUTime),
      userUsPerCreate: per(cpu1.userCPUTime - cpu0.userCPUTime),
    }),
  );
  await rm(dir, { recursive: true, force: true });
}
