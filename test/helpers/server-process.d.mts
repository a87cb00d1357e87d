export interface ServerProcess {
  url: string;
  creds: { organizationId: string; secretKey: string; endpoint: string };
  pid: number;
  output: string[];
  stop(): Promise<void>;
  kill(): Promise<void>;
}
export declare function startServerProcess(
  dataDir: string,
  env?: Record<string, string>,
  nodeArgs?: string[],
): Promise<ServerProcess>;
export declare function peakRssMb(pid: number): Promise<number>;
