import { Option, type Command } from "commander";
import { MAX_FILES_PER_SESSION, MAX_PAGE_SIZE, SORT_CRITERIA } from "@vi/protocol";
import { METADATA_SIDECAR, ViUploadError } from "@vi/sdk";
import { helpText } from "../help.js";
import { actionOf, type CommandContext, type ResolvedDeps, type RunState } from "../context.js";
import { CliInterruptedError, CliUsageError, ExitCode, exitCodeFor } from "../exit-codes.js";
import { errorToJson, printError } from "../errors.js";
import {
  plural,
  formatBytes,
  formatTime,
  renderDetails,
  StreamingTable,
  renderTable,
  type Column,
  type Output,
  escapeTerminal,
} from "../output.js";
import {
  collect,
  compact,
  intInRange,
  jsonObject,
  metadataObject,
  metadataPair,
  metadataPatchObject,
  nonNegativeNumber,
  type MetadataValue,
} from "../parse.js";
import type {
  Asset,
  AssetUploadResult,
  BulkAssetDeletionSession,
  DownloadResult,
  IngestionSession,
  ListAssetsOptions,
} from "../sdk-types.js";

const MAX_CONCURRENCY = 256;

/** The JSON of an upload result: its fields, with each session summarised (no signed URLs). */
export function uploadResultToJson(result: AssetUploadResult): Record<string, unknown> {
  return {
    totalFiles: result.totalFiles,
    totalSucceeded: result.totalSucceeded,
    totalFailed: result.totalFailed,
    successRate: result.successRate,
    failedFiles: result.failedFiles,
    totalPending: result.totalPending,
    waited: result.waited,
    interrupted: result.interrupted,
    totalSkipped: result.totalSkipped,
    skippedFiles: result.skippedFiles,
    unmatchedMetadataEntries: result.unmatchedMetadataEntries,
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
    for (const f of result.failedFiles)
      out.errorLine(`  ${escapeTerminal(f.path)}  ${f.code}${f.reason ? `  ${escapeTerminal(f.reason)}` : ""}`);
  }
}

/**
 * On stderr, what the summary counted but did not name: the skipped files and the sidecar
 * entries that named no file, which `--verbose` lists (dropped with --quiet).
 */
function noteUnlisted(out: Output, result: AssetUploadResult, verbose: boolean): void {
  if (out.json || verbose) return;
  const unnamed: string[] = [];
  const skipped = result.totalSkipped;
  const unmatched = result.unmatchedMetadataEntries.length;
  if (skipped > 0) unnamed.push(`the ${skipped} skipped ${skipped === 1 ? "file" : "files"}`);
  if (unmatched > 0) unnamed.push(`the ${unmatched} unmatched metadata ${unmatched === 1 ? "entry" : "entries"}`);
  if (unnamed.length > 0) out.note(`(--verbose names ${unnamed.join(" and ")})`);
}

/** Prints an upload's result: the summary (stdout) or its JSON, then what stderr adds. */
function reportUpload(ctx: CommandContext, result: AssetUploadResult, verbose: boolean): string {
  const summary = result.summary({ verbose });
  ctx.out.result(
    () => ctx.out.line(summary),
    () => uploadResultToJson(result),
  );
  noteUnlisted(ctx.out, result, verbose);
  return summary;
}

/** A string shown bare unless it could be read as another type or holds spaces, `=` or quotes. */
function metadataValueText(value: unknown): string {
  if (typeof value !== "string") return JSON.stringify(value);
  const ambiguous = value === "" || /[\s="',]/.test(value) || /^(true|false|null|[-+]?(\d|\.\d))/.test(value);
  return ambiguous ? JSON.stringify(value) : value;
}

const METADATA_COLUMN_WIDTH = 60;

/** Custom metadata on one line, `camera=a iso=200 night=true note="two words"`, cut to a table column. */
export function compactMetadata(metadata: Record<string, unknown> | undefined, width = METADATA_COLUMN_WIDTH): string {
  const entries = Object.entries(metadata ?? {});
  if (entries.length === 0) return "-";
  const text = entries.map(([k, v]) => `${k}=${metadataValueText(v)}`).join(" ");
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

function assetColumns(withUrl: boolean): Column<Asset>[] {
  const columns: Column<Asset>[] = [
    { header: "assetId", get: (a) => a.assetId },
    { header: "filename", get: (a) => a.filename },
    { header: "width x height", get: (a) => `${a.metadata.width}x${a.metadata.height}` },
    { header: "mime", get: (a) => a.metadata.mimeType },
    { header: "bytes", get: (a) => formatBytes(a.metadata.fileSize), align: "right" },
    { header: "custom metadata", get: (a) => compactMetadata(a.metadata.customMetadata) },
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
      ["Status", m.statusReason ? `${m.status}: ${m.statusReason}` : m.status],
      ["Upload status", m.uploadStatus],
      ["Thumbnail", m.thumbnail],
      [
        "Decoded",
        m.media
          ? `${m.media.channels} channel(s), ${m.media.bitDepth}-bit ${m.media.colorSpace}${m.media.hasAlpha ? " with alpha" : ""} (${m.media.decoder})`
          : undefined,
      ],
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
  waitProcessing?: boolean;
  concurrency?: number;
  batchSize?: number;
  progress: boolean;
  metadata?: Record<string, MetadataValue>;
  metadataJson?: Record<string, MetadataValue>;
  metadataFile?: string;
  verbose?: boolean;
}

/** `--filter`, `--query`, `--strict`: the selection of list, download and bulk-delete. */
interface SelectionCliOptions {
  filter?: string;
  query?: string;
  strict?: boolean;
  /** The older spelling of --strict (hidden). */
  strictQuery?: boolean;
}

interface ListCliOptions extends SelectionCliOptions {
  pageSize?: number;
  pageToken?: string;
  sort?: (typeof SORT_CRITERIA)[number];
  /** The older spelling of --sort (hidden). */
  sortBy?: (typeof SORT_CRITERIA)[number];
  order?: "asc" | "desc";
  contents?: boolean;
  all?: boolean;
  count?: boolean;
}

interface DownloadCliOptions extends SelectionCliOptions {
  overwrite?: boolean;
  concurrency?: number;
  progress: boolean;
}

interface UpdateCliOptions {
  set?: Record<string, MetadataValue>;
  metadataJson?: Record<string, MetadataValue | null>;
  unset?: string[];
  replace?: boolean;
}

interface BulkDeleteCliOptions extends SelectionCliOptions {
  dryRun?: boolean;
  yes?: boolean;
}

/** The SDK's selection options from the flags (only those given). */
function selection(opts: SelectionCliOptions): { filter?: string; metadataQuery?: string; strictQuery?: boolean } {
  return compact({
    filter: opts.filter,
    metadataQuery: opts.query,
    strictQuery: opts.strict || opts.strictQuery ? true : undefined,
  });
}

/** Adds `--filter`, `--query` and `--strict` to a command. */
function withSelection(command: Command, what: string): Command {
  return command
    .option(
      "--filter <json>",
      `${what} the assets a JSON filter selects, e.g. '{"status": "uploaded"}', '{"hasTag": "car"}', '{"customMetadata": {"camera": "a"}}'`,
      filterArg,
    )
    .option("--query <expression>", `${what} the assets a metadata query selects, e.g. 'custom_field == "value"'`)
    .option("--strict", "match case-sensitively (the server's strictQuery; default: case-insensitive)")
    .addOption(new Option("--strict-query").hideHelp());
}

/** The JSON of a bulk delete: the session's ids, selection and counts. */
export function bulkDeleteToJson(session: BulkAssetDeletionSession): Record<string, unknown> {
  return {
    deleteManyAssetsSessionId: session.deleteManyAssetsSessionId,
    datasetId: session.datasetId,
    spec: session.spec,
    dryRun: Boolean(session.spec?.dryRun),
    selected: session.status?.selected,
    deleted: session.status?.deleted,
    conditions: session.status?.conditions ?? [],
  };
}

/** A filter given, but selecting nothing explicitly (`{}`). */
const emptyFilter = (filter: string | undefined): boolean =>
  filter !== undefined && Object.keys(jsonObject(filter)).length === 0;

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
    .option("--no-wait", "return once the bytes are sent, without waiting for the server to commit them")
    .option("--wait-processing", "also wait until the uploaded assets are processed (decoded, thumbnailed)")
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
      `custom metadata on every uploaded asset, as a JSON object of strings, numbers and booleans (types are kept)`,
      metadataObject,
    )
    .option(
      "--metadata-file <json>",
      `per-file custom metadata: a JSON file {"<asset filename>": {key: value}}, merged over --metadata/--metadata-json (default: ${METADATA_SIDECAR} at the root of each uploaded folder, if there is one)`,
    )
    .option("--no-progress", "no progress bar (default: shown when stderr is a terminal)")
    .option("-v, --verbose", "name each skipped file and each sidecar entry that matched no file (default: count them)")
    .addHelpText(
      "after",
      helpText(
        `\nExit status: 0 when every file succeeded, 1 when some failed (they are listed on stderr).\n` +
          `With --no-wait, check the sessions later with \`vi-cli assets wait <datasetId> <sessionId>\`.\n\n` +
          `Per-file metadata: a sidecar maps each file's asset filename (its path relative to the folder\n` +
          `uploaded, "/"-separated) to its metadata, e.g. {"cats/001.jpg": {"camera": "a", "score": 0.9}}.\n` +
          `${METADATA_SIDECAR} at the root of an uploaded folder is read unless --metadata-file is given;\n` +
          `it is never uploaded. A null value drops a key that --metadata/--metadata-json set. An entry that\n` +
          `names no file of the upload is not applied: the summary warns (--verbose names the entries).\n\n` +
          `Files under a folder that are not supported images are skipped and counted (--verbose names them).`,
      ),
    )
    .action(
      actionOf<UploadCliOptions>(deps, state, async (ctx, opts, args) => {
        const [datasetId, paths] = args as [string, string[]];
        const customMetadata =
          opts.metadata || opts.metadataJson ? { ...(opts.metadataJson ?? {}), ...(opts.metadata ?? {}) } : undefined;
        const verbose = Boolean(opts.verbose);
        let partial: AssetUploadResult | undefined;
        const upload = ctx.client().assets.upload(
          compact({
            datasetId,
            paths,
            waitUntilDone: opts.wait,
            waitForProcessing: opts.waitProcessing ? true : undefined,
            failureMode: opts.failAfterAll ? ("FailAfterAll" as const) : ("FailAfterOne" as const),
            onAssetOverwritten: opts.keepLinkedResources
              ? ("KeepLinkedResource" as const)
              : ("RemoveLinkedResource" as const),
            batchSize: opts.batchSize,
            concurrency: opts.concurrency,
            showProgress: showProgress(ctx, opts.progress),
            customMetadata,
            metadataFile: opts.metadataFile,
            signal: ctx.signal,
            onInterrupted: (result: AssetUploadResult) => (partial = result),
          }),
        );
        let result: AssetUploadResult;
        try {
          result = await upload;
        } catch (err) {
          if (ctx.signal.aborted && partial !== undefined) {
            // Ctrl-C: what got in, and how to go on from there.
            if (!ctx.out.json) reportUpload(ctx, partial, verbose);
            const committed = `${partial.totalSucceeded} of ${plural(partial.totalFiles, "file")} committed`;
            const interrupted = new CliInterruptedError(
              `${err instanceof Error && err.message.startsWith("interrupted") ? err.message : "interrupted"}: ${committed}`,
              "to upload the rest, run the same command again: committed files are recognised and not sent again",
            );
            printError(ctx.out, interrupted, { result: uploadResultToJson(partial) });
            ctx.setExitCode(ExitCode.Interrupted);
            return;
          }
          if (!(err instanceof ViUploadError) || !err.result) throw err;
          // Stopped at a failed file (FailAfterOne): what did get in, every failure, then the error
          // (with --json, one document: {error, result}).
          if (!ctx.out.json) printFailedFiles(ctx.out, err.result, reportUpload(ctx, err.result, verbose));
          printError(ctx.out, err, { result: uploadResultToJson(err.result) });
          ctx.setExitCode(ExitCode.PartialFailure);
          return;
        }
        const summary = reportUpload(ctx, result, verbose);
        if (!ctx.out.json && !opts.wait && result.sessionIds.length > 0) {
          // --no-wait: not a failure; the server settles the files, `assets wait` gives the outcome.
          const n = result.sessionIds.length;
          ctx.out.line(
            result.totalPending > 0
              ? `The server is still verifying and committing ${plural(result.totalPending, "file")}. To wait for the outcome, run:`
              : `Every file is settled already. The ${n === 1 ? "session" : "sessions"}, for \`vi-cli assets wait\`:`,
          );
          for (const id of result.sessionIds) ctx.out.line(`  vi-cli assets wait ${datasetId} ${id}`);
        }
        printFailedFiles(ctx.out, result, summary);
        if (result.totalFailed > 0) {
          if (!ctx.out.json)
            ctx.out.errorLine(`error: ${result.totalFailed} of ${result.totalFiles} file(s) failed to upload`);
          ctx.setExitCode(ExitCode.PartialFailure);
        }
      }),
    );

  withSelection(
    assets
      .command("list")
      .description("list a dataset's assets (one page, or every page with --all), or count them (--count)")
      .argument("<datasetId>", "the dataset")
      .option("--page-size <n>", `assets per page, 1..${MAX_PAGE_SIZE}`, intInRange(1, MAX_PAGE_SIZE))
      .option("--page-token <token>", "start at this page (the nextPage of a previous listing)")
      .addOption(new Option("--sort <criterion>", "sort criterion").choices(SORT_CRITERIA))
      .addOption(new Option("--sort-by <criterion>").choices(SORT_CRITERIA).hideHelp())
      .addOption(new Option("--order <order>", "sort order (default asc)").choices(["asc", "desc"])),
    "list only",
  )
    .option("--contents", "include signed download URLs")
    .option("--all", "follow every page (with --json: still one JSON document)")
    .addOption(
      new Option("--count", "print only how many assets the selection holds (--json: {count})").conflicts([
        "all",
        "pageToken",
        "contents",
      ]),
    )
    .action(
      actionOf<ListCliOptions>(deps, state, async (ctx, opts, args) => {
        const [datasetId] = args as [string];
        if (opts.count) {
          const count = await ctx.client().assets.count({ datasetId, ...selection(opts), signal: ctx.signal });
          ctx.out.result(
            () => ctx.out.line(String(count)),
            () => ({ count }),
          );
          return;
        }
        const criterion = opts.sort ?? opts.sortBy;
        const request: ListAssetsOptions = compact({
          datasetId,
          pageSize: opts.pageSize,
          pageToken: opts.pageToken,
          sortBy:
            criterion !== undefined || opts.order !== undefined
              ? { criterion: criterion ?? "default", order: opts.order ?? "asc" }
              : undefined,
          ...selection(opts),
          contents: opts.contents ? true : undefined,
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

  withSelection(
    assets
      .command("download")
      .description("download the assets of a dataset (all, or those --filter / --query select) into a folder")
      .argument("<datasetId>", "the dataset")
      .argument("<saveDir>", "the folder to save into (created if needed)"),
    "download only",
  )
    .option("--overwrite", "replace files that already exist (default: skip them)")
    .option(
      "--concurrency <n>",
      `files fetched in parallel, 1..${MAX_CONCURRENCY} (SDK default 16)`,
      intInRange(1, MAX_CONCURRENCY),
    )
    .option("--no-progress", "no progress bar (default: shown when stderr is a terminal)")
    .addHelpText("after", helpText(`\nExit status: 0 when every file was downloaded or skipped, 1 when some failed.`))
    .action(
      actionOf<DownloadCliOptions>(deps, state, async (ctx, opts, args) => {
        const [datasetId, saveDir] = args as [string, string];
        const result: DownloadResult = await ctx.client().assets.download(
          compact({
            datasetId,
            saveDir,
            ...selection(opts),
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
            const differing = result.differing ?? [];
            if (differing.length > 0) {
              ctx.out.errorLine(
                `Kept ${differing.length} file(s) that differ from the dataset's (--overwrite replaces them):`,
              );
              for (const f of differing) ctx.out.errorLine(`  ${f}`);
            }
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
      helpText(
        `\nExit status: 0 when every asset was deleted, 1 when some could not be (they are named on stderr).\n` +
          `With a single asset, its error's own exit status (e.g. 4 when it does not exist).`,
      ),
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
    .command("update")
    .description("change an asset's custom metadata (merged into what it has, unless --replace)")
    .argument("<datasetId>", "the dataset")
    .argument("<assetId>", "the asset")
    .option("--set <key=value>", "set a key to a string value; repeatable", metadataPair)
    .option(
      "--metadata-json <json>",
      "keys to set, as a JSON object: numbers and booleans keep their type, null removes the key",
      metadataPatchObject,
    )
    .option("--unset <key>", "remove a key; repeatable", collect)
    .option("--replace", "make the keys given the asset's whole custom metadata (alone: remove every key)")
    .addHelpText(
      "after",
      helpText(
        `\nExamples:\n` +
          `  vi-cli assets update ds1 a1 --set camera=a --metadata-json '{"iso": 200, "night": true}'\n` +
          `  vi-cli assets update ds1 a1 --unset reviewed\n` +
          `  vi-cli assets update ds1 a1 --replace --metadata-json '{"split": "train"}'`,
      ),
    )
    .action(
      actionOf<UpdateCliOptions>(deps, state, async (ctx, opts, args) => {
        const [datasetId, assetId] = args as [string, string];
        const unset = opts.unset ?? [];
        if (opts.set === undefined && opts.metadataJson === undefined && unset.length === 0 && !opts.replace)
          throw new CliUsageError(
            "nothing to change",
            "give --set key=value, --metadata-json '{...}', --unset key or --replace",
          );
        if (opts.replace && unset.length > 0)
          throw new CliUsageError("--unset cannot be combined with --replace: --replace removes every key not given");
        const patch: Record<string, MetadataValue | null> = { ...(opts.metadataJson ?? {}), ...(opts.set ?? {}) };
        const both = unset.filter((key) => key in patch && patch[key] !== null);
        if (both.length > 0) throw new CliUsageError(`${both.join(", ")}: both set and --unset`);
        for (const key of unset) patch[key] = null;
        const asset = await ctx.client().assets.update(
          compact({
            datasetId,
            assetId,
            customMetadata: patch,
            replace: opts.replace ? true : undefined,
            signal: ctx.signal,
          }),
        );
        ctx.out.result(
          () => {
            ctx.out.line(`Updated asset ${asset.assetId} (${asset.filename})`);
            const custom = Object.entries(asset.metadata?.customMetadata ?? {});
            if (custom.length === 0) ctx.out.line("Custom metadata: none");
            else {
              ctx.out.line("Custom metadata:");
              for (const [k, v] of custom) ctx.out.line(`  ${k}: ${JSON.stringify(v)}`);
            }
          },
          () => asset,
        );
      }),
    );

  withSelection(
    assets
      .command("bulk-delete")
      .description("delete the assets that --filter and/or --query select, in one server-side session")
      .argument("<datasetId>", "the dataset"),
    "delete",
  )
    .option("--dry-run", "only count what would be deleted")
    .option("-y, --yes", "do not ask for confirmation (required when stdin is not a terminal)")
    .addHelpText(
      "after",
      helpText(
        `\nWithout --yes it first counts the selection (a dry run) and asks on a terminal; without a\n` +
          `terminal it refuses (exit 2). To delete every asset, delete the dataset.\n` +
          `Exit status: 0 when the session finished, 1 when it failed part way (see "deleted").`,
      ),
    )
    .action(
      actionOf<BulkDeleteCliOptions>(deps, state, async (ctx, opts, args) => {
        const [datasetId] = args as [string];
        const query = opts.query?.trim() ? opts.query : undefined;
        if ((opts.filter === undefined || emptyFilter(opts.filter)) && query === undefined)
          throw new CliUsageError(
            "bulk-delete needs --filter or --query to select the assets to delete",
            `to delete every asset, delete the dataset: vi-cli datasets delete ${datasetId}`,
          );
        const client = ctx.client();
        const chosen = { datasetId, ...selection(opts), signal: ctx.signal };
        const report = (session: BulkAssetDeletionSession) =>
          ctx.out.result(
            () => {
              const { selected, deleted } = session.status;
              if (session.spec?.dryRun) ctx.out.line(`${selected} asset(s) selected; dry run: nothing was deleted`);
              else ctx.out.line(`Deleted ${deleted} of ${selected} selected asset(s)`);
              ctx.out.note(`Session ${session.deleteManyAssetsSessionId}`);
            },
            () => bulkDeleteToJson(session),
          );

        if (opts.dryRun || !opts.yes) {
          const dry = await client.datasets.bulkDeleteAssets({ ...chosen, dryRun: true });
          const count = dry.status.selected;
          if (opts.dryRun || count === 0) {
            report(dry);
            return;
          }
          if (!ctx.deps.isInteractive())
            throw new CliUsageError(
              `refusing to delete ${count} asset(s) of dataset ${datasetId} without confirmation: stdin is not a terminal`,
              "pass --yes to delete without asking (or --dry-run to only count)",
            );
          const ok = await ctx.deps.confirm(`Delete ${count} asset(s) of dataset ${datasetId}?`);
          if (!ok) throw new CliInterruptedError("deletion cancelled: nothing was deleted");
        }
        report(await client.datasets.bulkDeleteAssets(chosen));
      }),
    );

  assets
    .command("wait")
    .description("wait until an upload session (from `assets upload --no-wait`) has finished")
    .argument("<datasetId>", "the dataset")
    .argument("<sessionId>", "the asset ingestion session")
    .option("--timeout <seconds>", "give up after this many seconds (exit 6)", nonNegativeNumber)
    .option("--processing", "also wait until the uploaded assets are processed (decoded, thumbnailed)")
    .addHelpText(
      "after",
      helpText(
        `\nExit status: 0 when every file succeeded (and, with --processing, every asset decoded), 1 when some failed, 6 on timeout.`,
      ),
    )
    .action(
      actionOf<{ timeout?: number; processing?: boolean }>(deps, state, async (ctx, opts, args) => {
        const [datasetId, sessionId] = args as [string, string];
        const session = await ctx.client().assets.waitUntilDone(
          compact({
            datasetId,
            assetIngestionSessionId: sessionId,
            processing: opts.processing ? true : undefined,
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
            const processing = session.status?.processing;
            if (processing)
              ctx.out.line(
                `  Processed: ${processing.completed} ok, ${processing.errored} in error, ${processing.processing} still processing`,
              );
            if (finished?.message) ctx.out.line(`  ${finished.message}`);
            if (failures.length > 0) {
              ctx.out.errorLine(`Failed files (${failures.length}):`);
              for (const f of failures)
                ctx.out.errorLine(`  ${f.filename}: ${f.code}${f.reason ? ` ${f.reason}` : ""}`);
            }
          },
          () => sessionToJson(session),
        );
        const processingErrors = opts.processing ? (session.status?.processing?.errored ?? 0) : 0;
        if (counts.errored > 0 || processingErrors > 0 || finished?.status === "FailedReach")
          ctx.setExitCode(ExitCode.PartialFailure);
      }),
    );
}
