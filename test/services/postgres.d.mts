export function startPostgres(): Promise<{ url: string; port: number; stop(): Promise<void> }>;
