import path from "node:path";
import type { Command } from "commander";
import { DEFAULT_DATA_DIR, ENV } from "../client-options.js";
import { actionOf, type ResolvedDeps, type RunState } from "../context.js";
import { CliUsageError, ExitCode } from "../exit-codes.js";
import { formatBytes, renderDetails } from "../output.js";
import { resolveS3Options } from "./serve.js";

interface DataDirOptions {
  dataDir?: string;
}

interface FsckOptions extends DataDirOptions {
  quarantine?: boolean;
  s3Bucket?: string;
  s3Endpoint?: string;
  s3ForcePathStyle?: boolean;
  s3Prefix?: string;
}

const dataDirOf = (opts: DataDirOptions, deps: ResolvedDeps) =>
  path.resolve(deps.cwd, opts.dataDir ?? (deps.env[ENV.dataDir] || DEFAULT_DATA_DIR));

const dataDirHelp = `the server's data folder (env ${ENV.dataDir}, default ./${DEFAULT_DATA_DIR})`;

/**
 * Commands for whoever holds the server's data folder, run while the server is stopped: they
 * work on the folder itself, not through the API, because no secret key may perform them.
 */
export function registerAdmin(program: Command, deps: ResolvedDeps, state: RunState): void {
  program
    .command("fsck")
    .description(
      "check a stopped server's data folder: every blob against its SHA-256, rows without bytes, bytes without rows",
    )
    .option("--data-dir <dir>", dataDirHelp)
    .option("--quarantine", "move damaged blobs to <data dir>/quarantine/ (their assets then read as missing)")
    .option("--s3-bucket <name>", "the server keeps its bytes in this bucket (env VI_S3_BUCKET)")
    .option("--s3-endpoint <url>", "the S3-compatible store's URL (env VI_S3_ENDPOINT)")
    .option("--s3-force-path-style", "path-style bucket addressing (env VI_S3_FORCE_PATH_STYLE)")
    .option("--s3-prefix <prefix>", "key prefix inside the bucket (env VI_S3_PREFIX)")
    .action(
      actionOf<FsckOptions>(deps, state, async (ctx, opts) => {
        const dataDir = dataDirOf(opts, ctx.deps);
        const server = await ctx.deps.loadServer();
        if (!server.fsck) throw new Error("this build of @vi/server has no fsck");
        let report;
        try {
          // Flags first, then the VI_S3_* variables the server itself reads.
          const s3 =
            resolveS3Options(opts, ctx.deps.env) ??
            resolveS3Options({ s3Bucket: ctx.deps.env.VI_S3_BUCKET }, ctx.deps.env);
          report = await server.fsck({ dataDir, quarantine: Boolean(opts.quarantine), ...(s3 ? { s3 } : {}) });
        } catch (err) {
          throw new CliUsageError((err as Error).message, "stop the server, and point --data-dir at its data folder");
        }
        ctx.out.result(
          () => {
            for (const line of renderDetails([
              ["Data folder", report.dataDir],
              ["Blobs checked", `${report.blobsChecked} (${formatBytes(report.bytesChecked)})`],
              ["Damaged blobs", report.damaged.length],
              ["Assets without their bytes", report.assetsWithoutBytes.length],
              ["Thumbnails without their bytes", report.thumbnailsWithoutBytes.length],
              ["Bytes without an asset", report.unreferencedBlobs.length],
              ["Stray files", report.strayFiles.length],
              ["Leftover staging files", report.stagingFiles],
            ]))
              ctx.out.line(line);
            for (const d of report.damaged)
              ctx.out.line(`damaged: ${d.sha256} (${d.problem})${d.quarantinedTo ? ` -> ${d.quarantinedTo}` : ""}`);
            for (const a of report.assetsWithoutBytes)
              ctx.out.line(`no bytes: ${a.datasetId}/${a.assetId} ${a.filename} (${a.problem})`);
            for (const a of report.thumbnailsWithoutBytes)
              ctx.out.line(`no thumbnail bytes: ${a.datasetId}/${a.assetId} ${a.filename} (${a.problem})`);
            ctx.out.line(
              report.clean
                ? "clean: every asset has its bytes and every blob matches its SHA-256"
                : report.assetsWithoutBytes.length > 0 || report.damaged.length > 0
                  ? "problems found: re-upload the listed files (the same upload command) to restore their bytes"
                  : "problems found",
            );
            const datasets = [...new Set(report.thumbnailsWithoutBytes.map((a) => a.datasetId))];
            for (const d of datasets)
              ctx.out.line(`to make lost thumbnails again: vi-cli datasets reprocess ${d} --all`);
          },
          () => report,
        );
        if (!report.clean) ctx.setExitCode(ExitCode.PartialFailure);
      }),
    );

  const orgs = program.command("orgs").description("organizations of a data folder (administrators only)");
  orgs
    .command("create")
    .description("create another organization with its first secret key, in a stopped server's data folder")
    .argument("<name>", "the organization's name")
    .option("--data-dir <dir>", dataDirHelp)
    .action(
      actionOf<DataDirOptions>(deps, state, async (ctx, opts, args) => {
        const [name] = args as [string];
        const dataDir = dataDirOf(opts, ctx.deps);
        const server = await ctx.deps.loadServer();
        if (!server.createOrganizationIn) throw new Error("this build of @vi/server cannot create organizations");
        let created;
        try {
          created = await server.createOrganizationIn(dataDir, name);
        } catch (err) {
          throw new CliUsageError((err as Error).message, "stop the server, and point --data-dir at its data folder");
        }
        ctx.out.result(
          () => {
            for (const line of renderDetails([
              ["Organization", created.organizationId],
              ["Name", created.name],
              ["Secret key", created.secretKey],
            ]))
              ctx.out.line(line);
          },
          () => created,
        );
        ctx.out.warn(
          `store this secret key now (e.g. in ${ENV.secretKey} with ${ENV.organizationId}=${created.organizationId}): it is shown only once.`,
        );
      }),
    );
}
