import { Option, type Command } from "commander";
import { DATASET_TYPES } from "@vi/protocol";
import type { Dataset } from "../sdk-types.js";
import { actionOf, type ResolvedDeps, type RunState } from "../context.js";
import { CliInterruptedError, CliUsageError } from "../exit-codes.js";
import { formatTime, renderDetails, renderTable, type Column } from "../output.js";
import { compact } from "../parse.js";

const DATASET_COLUMNS: Column<Dataset>[] = [
  { header: "datasetId", get: (d) => d.datasetId },
  { header: "name", get: (d) => d.name },
  { header: "type", get: (d) => d.type },
  { header: "assets", get: (d) => String(d.statistic?.assetTotal ?? 0), align: "right" },
  { header: "created", get: (d) => formatTime(d.createDate) },
];

function datasetDetails(d: Dataset): string[] {
  return renderDetails([
    ["Dataset id", d.datasetId],
    ["Name", d.name],
    ["Description", d.description],
    ["Type", d.type],
    ["Content", d.content],
    ["Organization", d.workspaceId],
    ["Owner", d.owner],
    ["Created", formatTime(d.createDate)],
    ["Assets", d.statistic?.assetTotal],
    ["Annotations", d.statistic?.annotationTotal],
    ["Assets annotated", d.statistic?.assetAnnotated],
    [
      "Tags",
      d.statistic && Object.keys(d.statistic.tagsCount).length > 0
        ? Object.entries(d.statistic.tagsCount)
            .map(([tag, n]) => `${tag} (${n})`)
            .join(", ")
        : undefined,
    ],
  ]);
}

interface CreateOptions {
  description?: string;
  type?: string;
}
interface DeleteOptions {
  yes?: boolean;
}

export function registerDatasets(program: Command, deps: ResolvedDeps, state: RunState): void {
  const datasets = program.command("datasets").description("create, list, inspect and delete datasets");

  datasets
    .command("create")
    .description("create a dataset")
    .argument("<name>", "the dataset's name")
    .option("--description <text>", "a description")
    .addOption(new Option("--type <type>", "the dataset type").choices(DATASET_TYPES))
    .action(
      actionOf<CreateOptions>(deps, state, async (ctx, opts, args) => {
        const [name] = args as [string];
        const dataset = await ctx
          .client()
          .datasets.create(compact({ name, description: opts.description, type: opts.type, signal: ctx.signal }));
        ctx.out.result(
          () => {
            ctx.out.line(`Created dataset ${dataset.datasetId} (${dataset.name})`);
          },
          () => dataset,
        );
      }),
    );

  datasets
    .command("list")
    .description("list the organization's datasets")
    .action(
      actionOf<object>(deps, state, async (ctx) => {
        const all: Dataset[] = [];
        for await (const page of ctx.client().datasets.list({ signal: ctx.signal })) all.push(...page.items);
        ctx.out.result(
          () => {
            if (all.length === 0) {
              ctx.out.note("No datasets yet: create one with `vi-cli datasets create <name>`.");
              return;
            }
            for (const line of renderTable(DATASET_COLUMNS, all)) ctx.out.line(line);
          },
          () => ({ items: all }),
        );
      }),
    );

  datasets
    .command("get")
    .description("show a dataset")
    .argument("<datasetId>", "the dataset's id")
    .action(
      actionOf<object>(deps, state, async (ctx, _opts, args) => {
        const [datasetId] = args as [string];
        const dataset = await ctx.client().datasets.get({ datasetId, signal: ctx.signal });
        ctx.out.result(
          () => {
            for (const line of datasetDetails(dataset)) ctx.out.line(line);
          },
          () => dataset,
        );
      }),
    );

  datasets
    .command("delete")
    .description("delete a dataset with all its assets and annotations")
    .argument("<datasetId>", "the dataset's id")
    .option("-y, --yes", "do not ask for confirmation (required when stdin is not a terminal)")
    .action(
      actionOf<DeleteOptions>(deps, state, async (ctx, opts, args) => {
        const [datasetId] = args as [string];
        if (!opts.yes) {
          if (!ctx.deps.isInteractive())
            throw new CliUsageError(
              `refusing to delete dataset ${datasetId} without confirmation: stdin is not a terminal`,
              "pass --yes to delete without asking",
            );
          const ok = await ctx.deps.confirm(`Delete dataset ${datasetId} with all its assets and annotations?`);
          if (!ok) throw new CliInterruptedError("deletion cancelled: nothing was deleted");
        }
        const deleted = await ctx.client().datasets.delete({ datasetId, signal: ctx.signal });
        ctx.out.result(
          () => {
            ctx.out.line(`Deleted dataset ${deleted.datasetId} (${deleted.deletedAssets} assets)`);
          },
          () => deleted,
        );
      }),
    );

  datasets
    .command("reprocess")
    .description("process a dataset's assets again (decode, thumbnail, status), e.g. after a server upgrade")
    .argument("<datasetId>", "the dataset's id")
    .option("--all", "every asset, not only those an older server build processed")
    .action(
      actionOf<{ all?: boolean }>(deps, state, async (ctx, opts, args) => {
        const [datasetId] = args as [string];
        const result = await ctx.client().datasets.reprocess({ datasetId, all: opts.all === true, signal: ctx.signal });
        ctx.out.result(
          () => {
            ctx.out.line(
              `Queued ${result.queued} asset(s) of ${datasetId} for processing (${result.backlog} waiting in all)`,
            );
            ctx.out.note(`See what is left: vi-cli assets list ${datasetId} --filter '{"uploadStatus": "processing"}'`);
          },
          () => result,
        );
      }),
    );
}
