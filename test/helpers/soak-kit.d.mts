export declare function seededJpeg(seed: string | number): Buffer;
export declare function digestOf(bytes: Uint8Array): { size: number; crc32c: number; sha256: string };
export declare function sha256Hex(bytes: Uint8Array): string;
export declare function sleep(ms: number, signal?: AbortSignal): Promise<void>;
export declare function prng(seed: number): {
  next(): number;
  int(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
};
export declare function percentile(values: readonly number[], p: number): number;

export interface KindSummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  statuses: Record<string, number>;
  networkErrors: number;
}
export type LatencySummary = Record<string, KindSummary>;

export declare class Recorder {
  record(kind: string, ms: number, status: number): void;
  networkError(kind: string): void;
  countAtLeast(min: number): number;
  summary(): LatencySummary;
}
export declare class NetworkError extends Error {
  constructor(kind: string, cause: unknown);
}
export interface CallReply {
  status: number;
  headers: Headers;
  body: Buffer;
  ms: number;
  json(): unknown;
}
export interface CallOptions {
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  body?: Buffer | string;
  headers?: Record<string, string>;
  signed?: boolean;
  timeoutMs?: number;
}
export declare function httpCaller(
  baseUrl: string,
  creds: { organizationId: string; secretKey: string } | undefined,
  recorder?: Recorder,
): (kind: string, method: string, pathOrUrl: string, options?: CallOptions) => Promise<CallReply>;
export declare function memoryMb(pid: number): Promise<{ rss: number; peak: number }>;
export declare function cpuSeconds(pid: number): Promise<number>;
export declare function machineBusySeconds(): Promise<number>;
export declare function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]>;
export declare function fmt(n: number, digits?: number): string;
export declare function latencyTable(summary: LatencySummary): string;
