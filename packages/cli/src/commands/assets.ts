import { Option, type Command } from "commander";
import { MAX_FILES_PER_SESSION, MAX_PAGE_SIZE, SORT_CRITERIA } from "@vi/protocol";
import { actionOf, type CommandContext, type ResolvedDeps, type RunState } from "../context.js";
import { ExitCode, exitCodeFor } from "../exit-codes.js";
import { errorToJson } from "../errors.js";
import {
  formatBytes,
  formatTime,
  renderDetails,
  StreamingTable,
  renderTable,
  type Column,
  type Output,
} from "../output.js";
import {
  compact,
  intInRange,
  jsonObject,
  metadataObject,
  metadataPair,
  nonNegativeNumber,
  type MetadataValue,
} from "../parse.js";
import type { Asset, AssetUploadResult, DownloadResult, IngestionSession, ListAssetsOptions } from "../sdk-types.js";

const MAX_CONCURRENCY = 256;

/** The JSON of an upload result: its fields, with each session summarised (no signed URLs). */
export function uploadResultToJson(result: AssetUploadResult): Record<string, unknown> {
  return {
    totalFiles: result.totalFiles,
    totalSucceeded: result.totalSucceeded,
    totalFailed: result.totalFailed,
    successRate: result.successRate,
    failedFiles: result.failedFiles,
    sessionIds: result.sessionIds,
    durationMs: result.durationMs,
    sessions: result.sessions.map(sessionToJson),
  };
}

function finishedCondition(
  session: IngestionSession,
): { status: string; reason?: string; message?: string } | undefined {
  return session.status?.conditions?.find((c) => c.condition === "Finished");
}

/** A session without its per-file upload targets (signed URLs, up to 10,000 of them). */
export function sessionToJson(session: IngestionSession): Record<string, unknown> {
  return {
    assetIngestionSessionId: session.assetIngestionSessionId,
    datasetId: session.datasetId,
    failureMode: session.spec?.failureMode,
    onAssetOverwritten: session.spec?.onAssetOverwritten,
    conditions: session.status?.conditions ?? [],
    progressCount: session.status?.progressCount,
    events: session.status?.events ?? [],
    deduplicated: session.status?.deduplicated,
    timeCreated: session.metadata?.timeCreated,
    lastUpdated: session.metadata?.lastUpdated,
  };
}

/** The failed files of a session, from its error events: filename -> code and reason. */
function sessionFailures(session: IngestionSession): { filename: string; code: string; reason: string }[] {
  const failures: { filename: string; code: string; reason: string }[] = [];
  for (const event of session.status?.events ?? []) {
    if (event.kind !== "Error" || !("files" in event)) continue;
    for (const [filename, code] of Object.entries(event.files)) {
      failures.push({ filename, code: String(code), reason: event.messages?.[filename] ?? "" });
    }
  }
  return failures;
}

/**
 * Prints on stderr the failed files of an upload that its summary (on stdout) did not list
 * (it lists the first few), so every failed file is named once. Never dropped by --quiet.
 */
export function printFailedFiles(out: Output, result: AssetUploadResult, summary: string): void {
  if (out.json || result.failedFiles.length === 0) return;
  const unlisted = result.failedFiles.filter((f) => !summary.includes(f.path));
  if (unlisted.length > 0) {
    out.errorLine(`Failed files${unlisted.length < result.failedFiles.length ? " (all)" : ""}:`);
    for (const f of result.failedFiles) out.errorLine(`  ${f.path}  ${f.code}${f.reason ? `  ${f.reason}` : ""}`);
  }
}

function assetColumns(withUrl: boolean): Column<Asset>[] {
  const columns: Column<Asset>[] = [
    { header: "assetId", get: (a) => a.assetId },
    { header: "filename", get: (a) => a.filename },
    { header: "width x height", get: (a) => `${a.metadata.width}x${a.metadata.height}` },
    { header: "mime", get: (a) => a.metadata.mimeType },
    { header: "bytes", get: (a) => formatBytes(a.metadata.fileSize), align: "right" },
  ];
  if (withUrl) columns.push({ header: "url", get: (a) => a.contents?.asset?.url ?? "-" });
  return columns;
}

function assetDetails(a: Asset): string[] {
  const m = a.metadata;
  const tags = Object.entries(m.annotations?.withTag ?? {});
  const custom = Object.entries(m.customMetadata ?? {});
  return [
    ...renderDetails([
      ["Asset id", a.assetId],
      ["Filename", a.filename],
      ["Dataset", a.datasetId],
      ["Size", `${m.width}x${m.height}`],
      ["File size", `${m.fileSize.toLocaleString("en-US")} bytes (${formatBytes(m.fileSize)})`],
      ["MIME type", m.mimeType],
      ["Frames", m.frames],
      ["Status", m.status],
      ["Upload status", m.uploadStatus],
      ["Created", formatTime(m.timeCreated)],
      ["Last updated", formatTime(m.lastUpdated)],
      ["Hash", m.hash ? `${m.hash.algorithm}:${m.hash.contents}` : undefined],
      [
        "Annotations",
        `${m.annotations?.total ?? 0}${tags.length ? ` (${tags.map(([t, n]) => `${t}: ${n}`).join(", ")})` : ""}`,
      ],
      ["Download URL", a.contents?.asset?.url],
      ["URL expires", a.contents?.asset ? formatTime(a.contents.asset.expiry) : undefined],
      ["Thumbnail URL", a.contents?.thumbnail?.url],
    ]),
    ...(custom.length > 0
      ? ["Custom metadata:", ...custom.map(([k, v]) => `  ${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)]
      : []),
  ];
}

interface UploadCliOptions {
  failAfterAll?: boolean;
  keepLinkedResources?: boolean;
  wait: boolean;
  concurrency?: number;
  batchSize?: number;
  progress: boolean;
  metadata?: Record<string, MetadataValue>;
  metadataJson?: Record<string, MetadataValue>;
}

interface ListCliOptions {
  pageSize?: number;
  pageToken?: string;
  sortBy?: (typeof SORT_CRITERIA)[number];
  order?: "asc" | "desc";
  filter?: string;
  query?: string;
  strictQuery?: boolean;
  contents?: boolean;
  all?: boolean;
}

interface DownloadCliOptions {
  overwrite?: boolean;
  concurrency?: number;
  progress: boolean;
}

/** `--no-progress` and `--quiet` turn progress bars off; otherwise the SDK decides (stderr is a TTY). */
function showProgress(ctx: CommandContext, progress: boolean): boolean | undefined {
  return progress === false || ctx.out.quiet ? false : undefined;
}

/** Validates `--filter` as a JSON object and keeps the user's text (the SDK sends it as given). */
function filterArg(value: string): string {
  jsonObject(value);
  return value;
}

export function registerAssets(program: Command, deps: ResolvedDeps, state: RunState): void {
  const assets = program.command("assets").description("upload, list, inspect, download and delete assets");

  assets
    .command("upload")
    .description("upload image files and folders (walked recursively) to a dataset")
    .argument("<datasetId>", "the dataset to upload to")
    .argument("<paths...>", "files and folders")
    .option("--fail-after-all", "try every file and report the failures (default: stop at the first failed file)")
    .option(
      "--keep-linked-resources",
      "keep the annotations of assets that a re-upload replaces (default: remove them)",
    )
    .option("--no-wait", "return once the bytes are sent, without waiting for the server to process them")
    .option(
      "--concurrency <n>",
      `files sent in parallel, 1..${MAX_CONCURRENCY} (SDK default 16)`,
      intInRange(1, MAX_CONCURRENCY),
    )
    .option(
      "--batch-size <n>",
      `files per ingestion session, 1..${MAX_FILES_PER_SESSION} (default ${MAX_FILES_PER_SESSION})`,
      intInRange(1, MAX_FILES_PER_SESSION),
    )
    .option(
      "--metadata <key=value>",
      "custom metadata (string value) on every uploaded asset; repeatable",
      metadataPair,
    )
    .option(
      "--metadata-json <json>",
      `custom metadata as a JSON object of strings, numbers and booleans`,
      metadataObject,
    )
    .option("--no-progress", "no progress bar (default: shown when stderr is a terminal)")
    .addHelpText(
      "after",
      `\nExit status: 0 when every file succeeded, 1 when some failed (they are listed on stderr).\n` +
        `With --no-wait, check the sessions later with \`vi-cli assets wait <datasetId> <sessionId>\`.`,
    )
    .action(
      actionOf<UploadCliOptions>(deps, state, async (ctx, opts, args) => {
        const [datasetId, paths] = args as [string, string[]];
        const customMetadata =
          opts.metadata || opts.metadataJson ? { ...(opts.metadataJson ?? {}), ...(opts.metadata ?? {}) } : undefined;
        const result = await ctx.client().assets.upload(
          compact({
            datasetId,
            paths,
            waitUntilDone: opts.wait,
            failureMode: opts.failAfterAll ? ("FailAfterAll" as const) : ("FailAfterOne" as const),
            onAssetOverwritten: opts.keepLinkedResources
              ? ("KeepLinkedResource" as const)
              : ("RemoveLinkedResource" as const),
            batchSize: opts.batchSize,
            concurrency: opts.concurrency,
            showProgress: showProgress(ctx, opts.progress),
            customMetadata,
            signal: ctx.signal,
          }),
        );
        const summary = result.summary();
        ctx.out.result(
          () => {
            ctx.out.line(summary);
            if (!opts.wait && result.sessionIds.length > 0) {
              ctx.out.line(`Started ${result.sessionIds.length} session(s):`);
              for (const id of result.sessionIds) ctx.out.line(`  ${id}`);
              ctx.out.note(`Check them with: vi-cli assets wait ${datasetId} <sessionId>`);
            }
          },
          () => uploadResultToJson(result),
        );
        printFailedFiles(ctx.out, result, summary);
        if (result.totalFailed > 0) {
          if (!ctx.out.json)
            ctx.out.errorLine(`error: ${result.totalFailed} of ${result.totalFiles} file(s) failed to upload`);
          ctx.setExitCode(ExitCode.PartialFailure);
        }
      }),
    );

  assets
    .command("list")
    .description("list a dataset's assets (one page, or every page with --all)")
    .argument("<datasetId>", "the dataset")
    .option("--page-size <n>", `assets per page, 1..${MAX_PAGE_SIZE}`, intInRange(1, MAX_PAGE_SIZE))
    .option("--page-token <token>", "start at this page (the nextPage of a previous listing)")
    .addOption(new Option("--sort-by <criterion>", "sort criterion").choices(SORT_CRITERIA))
    .addOption(new Option("--order <order>", "sort order (default asc)").choices(["asc", "desc"]))
    .option("--filter <json>", `a JSON filter object, e.g. '{"status": "error"}'`, filterArg)
    .option("--query <expression>", `a custom-metadata query, e.g. 'camera == "a"'`)
    .option("--strict-query", "reject unknown fields in --filter / --query instead of ignoring them")
    .option("--contents", "include signed download URLs")
    .option("--all", "follow every page")
    .action(
      actionOf<ListCliOptions>(deps, state, async (ctx, opts, args) => {
        const [datasetId] = args as [string];
        const request: ListAssetsOptions = compact({
          datasetId,
          pageSize: opts.pageSize,
          pageToken: opts.pageToken,
          sortBy:
            opts.sortBy !== undefined || opts.order !== undefined
              ? { criterion: opts.sortBy ?? "default", order: opts.order ?? "asc" }
              : undefined,
          filter: opts.filter,
          metadataQuery: opts.query,
          contents: opts.contents ? true : undefined,
          strictQuery: opts.strictQuery ? true : undefined,
          signal: ctx.signal,
        }) as ListAssetsOptions;
        const columns = assetColumns(Boolean(opts.contents));
        const pages = ctx.client().assets.list(request);

        if (!opts.all) {
          const page = await pages;
          ctx.out.result(
            () => {
              for (const line of renderTable(columns, page.items)) ctx.out.line(line);
              if (page.nextPage)
                ctx.out.note(`More assets: vi-cli assets list ${datasetId} --page-token ${page.nextPage} (or --all)`);
            },
            () => page,
          );
          return;
        }

        // --all: stream, so that memory stays bounded whatever the dataset's size. The document
        // opens with the first page (an error before it is a plain {"error"} document) and an
        // error after it closes the document as its "error" member: stdout stays one JSON document.
        let count = 0;
        if (ctx.out.json) {
          let opened = false;
          const close = (tail: string) =>
            ctx.out.raw(`${count === 0 ? "" : "\n"}], "nextPage": null, "count": ${count}${tail}}\n`);
          for await (const page of pages) {
            if (!opened) {
              ctx.out.raw(`{"items": [`);
              opened = true;
              ctx.streamingJson((error) => close(`, "error": ${JSON.stringify(error)}`));
            }
            for (const item of page.items) {
              ctx.out.raw(`${count === 0 ? "\n" : ",\n"}${JSON.stringify(item)}`);
              count++;
            }
          }
          ctx.streamingJson(undefined);
          if (!opened) ctx.out.raw(`{"items": [`);
          close("");
          return;
        }
        const table = new StreamingTable(columns, (line) => ctx.out.line(line));
        for await (const page of pages) {
          table.addPage(page.items);
          count += page.items.length;
        }
        table.finish();
        ctx.out.note(`${count} asset(s)`);
      }),
    );

  assets
    .command("get")
    .description("show an asset's details")
    .argument("<datasetId>", "the dataset")
    .argument("<assetId>", "the asset")
    .option("--contents", "include signed download URLs")
    .action(
      actionOf<{ contents?: boolean }>(deps, state, async (ctx, opts, args) => {
        const [datasetId, assetId] = args as [string, string];
        const asset = await ctx
          .client()
          .assets.get(compact({ datasetId, assetId, contents: opts.contents ? true : undefined, signal: ctx.signal }));
        ctx.out.result(
          () => {
            for (const line of assetDetails(asset)) ctx.out.line(line);
          },
          () => asset,
        );
      }),
    );

  assets
    .command("download")
    .description("download every asset of a dataset into a folder")
    .argument("<datasetId>", "the dataset")
    .argument("<saveDir>", "the folder to save into (created if needed)")
    .option("--overwrite", "replace files that already exist (default: skip them)")
    .option(
      "--concurrency <n>",
      `files fetched in parallel, 1..${MAX_CONCURRENCY} (SDK default 8)`,
      intInRange(1, MAX_CONCURRENCY),
    )
    .option("--no-progress", "no progress bar (default: shown when stderr is a terminal)")
    .addHelpText("after", `\nExit status: 0 when every file was downloaded or skipped, 1 when some failed.`)
    .action(
      actionOf<DownloadCliOptions>(deps, state, async (ctx, opts, args) => {
        const [datasetId, saveDir] = args as [string, string];
        const result: DownloadResult = await ctx.client().assets.download(
          compact({
            datasetId,
            saveDir,
            overwrite: opts.overwrite ? true : undefined,
            concurrency: opts.concurrency,
            showProgress: showProgress(ctx, opts.progress),
            signal: ctx.signal,
          }),
        );
        ctx.out.result(
          () => {
            ctx.out.line(
              `Downloaded ${result.downloaded} asset(s) (${formatBytes(result.bytes)}) to ${result.saveDir}`,
            );
            if (result.skipped > 0)
              ctx.out.line(`Skipped ${result.skipped} file(s) already there (use --overwrite to replace them)`);
            if (result.failed.length > 0) {
              ctx.out.errorLine(`Failed (${result.failed.length}):`);
              for (const f of result.failed) ctx.out.errorLine(`  ${f.filename}: ${f.reason}`);
            }
          },
          () => result,
        );
        if (result.failed.length > 0) ctx.setExitCode(ExitCode.PartialFailure);
      }),
    );

  assets
    .command("delete")
    .description("delete assets (and their annotations)")
    .argument("<datasetId>", "the dataset")
    .argument("<assetIds...>", "the assets to delete")
    .addHelpText(
      "after",
      `\nExit status: 0 when every asset was deleted, 1 when some could not be (they are named on stderr).\n` +
        `With a single asset, its error's own exit status (e.g. 4 when it does not exist).`,
    )
    .action(
      actionOf<object>(deps, state, async (ctx, _opts, args) => {
        const [datasetId, assetIds] = args as [string, string[]];
        const client = ctx.client();
        const deleted: string[] = [];
        const failed: { assetId: string; error: ReturnType<typeof errorToJson> }[] = [];
        for (const assetId of assetIds) {
          try {
            await client.assets.delete({ datasetId, assetId, signal: ctx.signal });
            deleted.push(assetId);
            if (!ctx.out.json && !ctx.out.quiet) ctx.out.line(`Deleted ${assetId}`);
          } catch (err) {
            // A lone asset, or an error that will fail every other call too: stop here.
            const code = exitCodeFor(err);
            if (
              assetIds.length === 1 ||
              code === ExitCode.Auth ||
              code === ExitCode.Network ||
              code === ExitCode.Interrupted ||
              ctx.signal.aborted
            )
              throw err;
            failed.push({ assetId, error: errorToJson(err) });
            if (!ctx.out.json) ctx.out.errorLine(`error: ${assetId}: ${errorToJson(err).message}`);
          }
        }
        ctx.out.result(
          () => {
            if (failed.length > 0)
              ctx.out.errorLine(
                `Deleted ${deleted.length} of ${assetIds.length} asset(s); failed: ${failed.map((f) => f.assetId).join(", ")}`,
              );
          },
          () => ({ deleted, failed }),
        );
        if (failed.length > 0) ctx.setExitCode(ExitCode.PartialFailure);
      }),
    );

  assets
    .command("wait")
    .description("wait until an upload session (from `assets upload --no-wait`) has finished")
    .argument("<datasetId>", "the dataset")
    .argument("<sessionId>", "the asset ingestion session")
    .option("--timeout <seconds>", "give up after this many seconds (exit 6)", nonNegativeNumber)
    .addHelpText("after", `\nExit status: 0 when every file succeeded, 1 when some failed, 6 on timeout.`)
    .action(
      actionOf<{ timeout?: number }>(deps, state, async (ctx, opts, args) => {
        const [datasetId, sessionId] = args as [string, string];
        const session = await ctx.client().assets.waitUntilDone(
          compact({
            datasetId,
            assetIngestionSessionId: sessionId,
            // seconds on the command line, milliseconds in the SDK
            timeout: opts.timeout === undefined ? undefined : Math.round(opts.timeout * 1000),
            signal: ctx.signal,
          }),
        );
        const counts = session.status?.progressCount ?? { total: 0, succeeded: 0, errored: 0 };
        const failures = sessionFailures(session);
        const finished = finishedCondition(session);
        ctx.out.result(
          () => {
            ctx.out.line(
              `Session ${session.assetIngestionSessionId}: ${finished ? `Finished ${finished.status}` : "not finished"}`,
            );
            ctx.out.line(`  Total:     ${counts.total}`);
            ctx.out.line(`  Succeeded: ${counts.succeeded}`);
            ctx.out.line(`  Failed:    ${counts.errored}`);
            if (finished?.message) ctx.out.line(`  ${finished.message}`);
            if (failures.length > 0) {
              ctx.out.errorLine(`Failed files (${failures.length}):`);
              for (const f of failures)
                ctx.out.errorLine(`  ${f.filename}: ${f.code}${f.reason ? ` ${f.reason}` : ""}`);
            }
          },
          () => sessionToJson(session),
        );
        if (counts.errored > 0 || finished?.status === "FailedReach") ctx.setExitCode(ExitCode.PartialFailure);
      }),
    );
}
