export interface RunningPostgres {
  /** An administrator's URL (the `postgres` database). */
  url: string;
  port: number;
  stop(): Promise<void>;
}
export function startPostgres(): Promise<RunningPostgres>;
