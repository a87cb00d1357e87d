import path from "node:path";
import { Option, type Command } from "commander";
import { DEFAULT_DATA_DIR, ENV } from "../client-options.js";
import { actionOf, type ResolvedDeps, type RunState, type ServerModule } from "../context.js";
import { CliInterruptedError, CliUsageError, ExitCode } from "../exit-codes.js";
import { helpText } from "../help.js";
import { formatBytes, renderTable } from "../output.js";
import { intInRange } from "../parse.js";

interface MigrateFlags {
  from?: string;
  to: string;
  toDataDir?: string;
  s3Bucket?: string;
  s3Endpoint?: string;
  s3ForcePathStyle?: boolean;
  verify: "full" | "sizes" | "counts";
  chunkRows?: number;
  stopAfter?: number;
}

type BlobDestination =
  { kind: "local"; dataDir: string } | { kind: "s3"; bucket: string; endpoint?: string; forcePathStyle?: boolean };

/** What `vi-cli migrate` needs of `@vi/server` (its `migrateDeployment`, loaded at runtime). */
interface MigrateReport {
  fromDataDir: string;
  blobDestination: BlobDestination;
  blobs: { referenced: number; copied: number; bytesCopied: number; present: number };
  tables: { table: string; inserted: number; sourceRows: number; targetRows: number; digestsEqual?: boolean }[];
  verify: {
    level: string;
    blobsChecked: number;
    bytesRead: number;
    blobProblems: { sha256: string; problem: string }[];
  };
  verified: boolean;
}
type Progress =
  | { phase: "blobs"; done: number; total: number; copied: number }
  | { phase: "rows"; table: string; inserted: number }
  | { phase: "verify"; step: string };
interface MigrateModule extends ServerModule {
  migrateDeployment?(options: {
    fromDataDir: string;
    databaseUrl: string;
    blobs?: BlobDestination;
    verify?: string;
    chunkRows?: number;
    signal?: AbortSignal;
    stopAfter?: number;
    onProgress?: (p: Progress) => void;
  }): Promise<MigrateReport>;
}

const RESUME = "run the same command again: it continues where this run stopped";

/** Progress on stderr: a line per phase, and within one at most every two seconds. */
function progressPrinter(note: (text: string) => void): (p: Progress) => void {
  let last = 0;
  let phase = "";
  let rows = new Map<string, number>();
  return (p) => {
    const key = p.phase === "rows" ? `rows:${p.table}` : p.phase;
    const now = Date.now();
    if (p.phase === "rows") rows.set(p.table, (rows.get(p.table) ?? 0) + p.inserted);
    const finished = p.phase === "blobs" && p.done === p.total;
    if (key === phase && now - last < 2000 && !finished) return;
    if (p.phase === "blobs") note(`blobs: ${p.done}/${p.total} checked, ${p.copied} copied`);
    else if (p.phase === "rows") note(`rows: ${p.table}: ${rows.get(p.table)} inserted`);
    else note(`verifying ${p.step}...`);
    if (p.phase === "verify") rows = new Map();
    phase = key;
    last = now;
  };
}

function destinationOf(flags: MigrateFlags, cwd: string): BlobDestination | undefined {
  if (flags.s3Bucket) {
    if (flags.toDataDir) throw new CliUsageError("--to-data-dir and --s3-bucket exclude each other", "give one");
    return {
      kind: "s3",
      bucket: flags.s3Bucket,
      ...(flags.s3Endpoint ? { endpoint: flags.s3Endpoint } : {}),
      ...(flags.s3ForcePathStyle ? { forcePathStyle: true } : {}),
    };
  }
  if (flags.s3Endpoint || flags.s3ForcePathStyle) throw new CliUsageError("--s3-endpoint needs --s3-bucket");
  return flags.toDataDir ? { kind: "local", dataDir: path.resolve(cwd, flags.toDataDir) } : undefined;
}

/**
 * `vi-cli migrate`: moves a stopped embedded deployment to PostgreSQL (and its bytes to another
 * store), resumable, checked at the end. Runs on the data folder itself, like fsck: whoever holds
 * the folder is its administrator.
 */
export function registerMigrate(program: Command, deps: ResolvedDeps, state: RunState): void {
  program
    .command("migrate")
    .description("move a stopped embedded deployment (SQLite + local files) to PostgreSQL, and its files to S3")
    .option("--from <dir>", `the embedded server's data folder (env ${ENV.dataDir}, default ./${DEFAULT_DATA_DIR})`)
    .requiredOption("--to <url>", "the PostgreSQL database to move to (postgres://user:password@host:5432/db)")
    .option("--to-data-dir <dir>", "copy the files to this folder (default: they stay in --from, read in place)")
    .option("--s3-bucket <bucket>", "copy the files to this S3-compatible bucket instead")
    .option("--s3-endpoint <url>", "the S3-compatible endpoint (default: AWS)")
    .option("--s3-force-path-style", "path-style bucket URLs (MinIO and most self-hosted stores)")
    .addOption(
      new Option(
        "--verify <level>",
        "the final check: full (rows by digest, every file read back and hashed), sizes (files by size only), counts (rows by count only, files by size)",
      )
        .choices(["full", "sizes", "counts"])
        .default("full"),
    )
    .option("--chunk-rows <n>", "rows copied per transaction (default 500)", intInRange(1, 2000))
    // A test hook: stops as an interruption would after n rows and files, to test resumption.
    .addOption(new Option("--stop-after <n>").argParser(intInRange(0)).hideHelp())
    .addHelpText(
      "after",
      helpText(
        "\nStop the server first (the move refuses a folder a server holds, and holds it itself meanwhile).\n" +
          "Interrupted (Ctrl-C, a crash), run the same command again: it continues and ends with the same result.\n" +
          "At the end every table's row count and content digest are compared, and every file is read back\n" +
          "from its new place and checked against its SHA-256 (--verify sizes: sizes only). Then start the\n" +
          "server with VI_DATABASE_URL set to the new database and VI_DATA_DIR to the folder holding the files.",
      ),
    )
    .action(
      actionOf<MigrateFlags>(deps, state, async (ctx, flags) => {
        if (!/^postgres(ql)?:\/\//.test(flags.to))
          throw new CliUsageError("--to must be a PostgreSQL URL", "e.g. --to postgres://vi:secret@db:5432/vi");
        const fromDataDir = path.resolve(ctx.deps.cwd, flags.from ?? (ctx.deps.env[ENV.dataDir] || DEFAULT_DATA_DIR));
        const blobs = destinationOf(flags, ctx.deps.cwd);
        const server = (await ctx.deps.loadServer()) as MigrateModule;
        if (!server.migrateDeployment) throw new Error("this build of @vi/server cannot migrate");
        let report: MigrateReport;
        try {
          report = await server.migrateDeployment({
            fromDataDir,
            databaseUrl: flags.to,
            ...(blobs ? { blobs } : {}),
            verify: flags.verify,
            ...(flags.chunkRows ? { chunkRows: flags.chunkRows } : {}),
            ...(flags.stopAfter !== undefined ? { stopAfter: flags.stopAfter } : {}),
            signal: ctx.signal,
            onProgress: progressPrinter((t) => ctx.out.note(t)),
          });
        } catch (err) {
          const name = (err as Error).name;
          const message = (err as Error).message;
          if (name === "SourceInUseError") throw new CliUsageError(message, "stop the server first");
          // Wrong folder, wrong database, a destination this build lacks: the command line is wrong.
          if (/not a Vi data folder/.test(message))
            throw new CliUsageError(message, "point --from at the data folder the server ran on");
          if (/another deployment/.test(message))
            throw new CliUsageError(message, "give --to an empty database (createdb), or drop and create this one");
          if (/not available in this build/.test(message)) throw new CliUsageError(message);
          if (name === "MigrationStoppedError" || ctx.signal.aborted) throw new CliInterruptedError(message, RESUME);
          throw err;
        }
        const dest = report.blobDestination;
        ctx.out.result(
          () => {
            for (const line of renderTable(
              [
                { header: "table", get: (t: MigrateReport["tables"][number]) => t.table },
                { header: "inserted", get: (t) => String(t.inserted), align: "right" },
                { header: "source", get: (t) => String(t.sourceRows), align: "right" },
                { header: "target", get: (t) => String(t.targetRows), align: "right" },
                {
                  header: "check",
                  get: (t) =>
                    t.sourceRows !== t.targetRows
                      ? "COUNT DIFFERS"
                      : t.digestsEqual === false
                        ? "CONTENT DIFFERS"
                        : t.digestsEqual
                          ? "ok (digest)"
                          : "ok (count)",
                },
              ],
              report.tables,
            ))
              ctx.out.line(line);
            ctx.out.line(
              `Files: ${report.blobs.referenced} referenced, ${report.blobs.copied} copied (${formatBytes(report.blobs.bytesCopied)}), ` +
                `${report.blobs.present} already there; ${report.verify.blobsChecked} checked` +
                (report.verify.level === "full"
                  ? `, ${formatBytes(report.verify.bytesRead)} read back and hashed`
                  : " by size"),
            );
            for (const p of report.verify.blobProblems) ctx.out.line(`file ${p.sha256}: ${p.problem}`);
            ctx.out.line(report.verified ? "verified: the target holds everything the source does" : "NOT verified");
          },
          () => report,
        );
        if (!report.verified) {
          ctx.setExitCode(ExitCode.PartialFailure);
          ctx.out.warn(`the target does not match the source yet: ${RESUME}`);
          return;
        }
        const inPlace = dest.kind === "local" && dest.dataDir === report.fromDataDir;
        const where = dest.kind === "local" ? `VI_DATA_DIR=${dest.dataDir}` : `VI_S3_BUCKET=${dest.bucket}`;
        ctx.out.note(
          `Next: start the server with VI_DATABASE_URL=<the --to URL> ${where}.` +
            (inPlace
              ? ` The files stay in ${fromDataDir}; its metadata.sqlite is no longer used once the server runs on PostgreSQL.`
              : ` Keep ${fromDataDir} until the new server serves.`),
        );
      }),
    );
}
