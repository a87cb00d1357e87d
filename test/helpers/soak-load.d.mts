import type { LatencySummary } from "./soak-kit.mjs";

export interface LoadOptions {
  durationMs?: number;
  uploaders?: number;
  listers?: number;
  filesPerSession?: number;
  seedAssets?: number;
  walkPages?: number;
  walkPageSize?: number;
  rateLimitPerMinute?: number;
  sampleEveryMs?: number;
  seed?: number;
  home?: string;
  keep?: boolean;
  log?: (line: string) => void;
}

export interface LoadResult {
  seed: number;
  seconds: number;
  uploaders: number;
  listers: number;
  rateLimitPerMinute: number;
  seededAssets: number;
  uploadedFiles: number;
  sessions: number;
  requests: number;
  requestsPerSecond: number;
  serverErrors: number;
  walks: number;
  walkPages: number;
  checkedItems: number;
  downloads: number;
  cpu: { serverSeconds: number; clientSeconds: number; serverCores: number; clientCores: number; machineCores: number };
  memory: {
    startRssMb: number;
    peakRssMb: number;
    endRssMb: number;
    firstTenthMeanMb: number;
    lastTenthMeanMb: number;
    samples: number;
  };
  latencies: LatencySummary;
  violations: string[];
}

export declare const LOAD_DEFAULTS: Required<Omit<LoadOptions, "seed" | "home">>;
export declare function runLoad(options?: LoadOptions): Promise<LoadResult>;
