import type { LatencySummary } from "./soak-kit.mjs";

export interface CrashLoopOptions {
  rounds?: number;
  filesPerRound?: number;
  sessionSize?: number;
  putConcurrency?: number;
  blockSize?: number;
  deleteBatchSize?: number;
  singleDeletePauseMs?: [number, number];
  bulkDeletePauseMs?: [number, number];
  maxOpenBulks?: number;
  killDelayMs?: [number, number];
  killOnBulkPostShare?: number;
  oldSample?: number;
  readbackConcurrency?: number;
  roundTimeoutMs?: number;
  seed?: number;
  home?: string;
  keep?: boolean;
  log?: (line: string) => void;
}

export interface CrashLoopResult {
  seed: number;
  rounds: number;
  kills: number;
  filesOffered: number;
  putsSent: number;
  acknowledged: number;
  sessionsChecked: number;
  inFlightPutsAtKill: number;
  committedUnacknowledged: number;
  singleDeletes: number;
  ambiguousSingleDeletes: { happened: number; didNot: number };
  bulkSessions: number;
  bulkAssetsDeleted: number;
  ambiguousBulkPosts: { existed: number; didNot: number };
  bulkRunningAtKill: number;
  killedDuringUpload: number;
  killedAfterBulkPost: number;
  orphansAtKill: number;
  orphansSweptAtRestart: number;
  stagingAtKill: number;
  stagingRemovedAtRestart: number;
  stagingLeftAfterRestart: number;
  rowsWithoutBytes: number;
  storeProblems: number;
  orphansAfterRecovery: number;
  lost: number;
  phantoms: number;
  readbacks: number;
  readbackMismatches: number;
  listingEqualsLog: number;
  finalAssets: number;
  durationMs: number;
  latencies: LatencySummary;
  violations: string[];
  dataDir: string;
}

export declare const CRASH_DEFAULTS: Required<Omit<CrashLoopOptions, "seed" | "home">>;
export declare function runCrashLoop(options?: CrashLoopOptions): Promise<CrashLoopResult>;
