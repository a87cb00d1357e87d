import { Option, type Command } from "commander";
import { actionOf, type ResolvedDeps, type RunState } from "../context.js";
import { formatTime, renderDetails, renderTable, type Column } from "../output.js";
import { bboxArg, compact } from "../parse.js";
import type { Annotation } from "../sdk-types.js";

interface CreateCliOptions {
  tag: string;
  bbox?: [number, number, number, number];
  caption?: string;
}

const CAPTION_COLUMN_WIDTH = 60;

/** An annotation's contents on one line: `[[x0,y0],[x1,y1]]` for a box, the caption (cut) for a caption. */
export function annotationContentsText(annotation: Annotation): string {
  const contents = annotation.spec?.contents;
  if (contents === undefined || contents === null) return "-";
  if (contents.kind === "Caption") {
    const text = JSON.stringify(contents.contents);
    return text.length > CAPTION_COLUMN_WIDTH ? `${text.slice(0, CAPTION_COLUMN_WIDTH - 1)}…` : text;
  }
  return JSON.stringify(contents.bound);
}

const COLUMNS: Column<Annotation>[] = [
  { header: "annotationId", get: (a) => a.annotationId },
  { header: "tag", get: (a) => a.spec?.tagName ?? String(a.spec?.tag ?? "-") },
  { header: "kind", get: (a) => a.spec?.contents?.kind ?? "-" },
  { header: "contents", get: annotationContentsText },
];

function details(a: Annotation): string[] {
  return renderDetails([
    ["Annotation id", a.annotationId],
    ["Asset", a.assetId],
    ["Dataset", a.datasetId],
    ["Tag", a.spec?.tag === undefined ? a.spec?.tagName : `${a.spec.tagName} (id ${a.spec.tag})`],
    ["Kind", a.spec?.contents?.kind],
    ["Contents", annotationContentsText(a)],
    ["Created", formatTime(a.metadata?.timeCreated)],
  ]);
}

export function registerAnnotations(program: Command, deps: ResolvedDeps, state: RunState): void {
  const annotations = program
    .command("annotations")
    .description("add, list, inspect and delete the annotations of an asset (a tag with a box or a caption)");

  annotations
    .command("create")
    .description("annotate an asset with a tag and a bounding box (default: the whole image) or a caption")
    .argument("<datasetId>", "the dataset")
    .argument("<assetId>", "the asset")
    .requiredOption("--tag <name>", "the tag's name, e.g. car")
    .addOption(
      new Option("--bbox <x0,y0,x1,y1>", "the bounding box: top-left and bottom-right corners")
        .argParser(bboxArg)
        .conflicts("caption"),
    )
    .option("--caption <text>", "a caption instead of a box")
    .action(
      actionOf<CreateCliOptions>(deps, state, async (ctx, opts, args) => {
        const [datasetId, assetId] = args as [string, string];
        const created = await ctx
          .client()
          .annotations.create(
            compact({ datasetId, assetId, tag: opts.tag, bbox: opts.bbox, caption: opts.caption, signal: ctx.signal }),
          );
        ctx.out.result(
          () =>
            ctx.out.line(
              `Created annotation ${created.annotationId} (${COLUMNS[1]?.get(created)}: ${annotationContentsText(created)})`,
            ),
          () => created,
        );
      }),
    );

  annotations
    .command("list")
    .description("list the annotations of an asset (every page)")
    .argument("<datasetId>", "the dataset")
    .argument("<assetId>", "the asset")
    .action(
      actionOf<object>(deps, state, async (ctx, _opts, args) => {
        const [datasetId, assetId] = args as [string, string];
        const all: Annotation[] = [];
        for await (const page of ctx.client().annotations.list({ datasetId, assetId, signal: ctx.signal }))
          all.push(...page.items);
        ctx.out.result(
          () => {
            for (const line of renderTable(COLUMNS, all)) ctx.out.line(line);
            ctx.out.note(`${all.length} annotation(s)`);
          },
          () => ({ items: all, count: all.length }),
        );
      }),
    );

  annotations
    .command("get")
    .description("show one annotation")
    .argument("<datasetId>", "the dataset")
    .argument("<assetId>", "the asset")
    .argument("<annotationId>", "the annotation")
    .action(
      actionOf<object>(deps, state, async (ctx, _opts, args) => {
        const [datasetId, assetId, annotationId] = args as [string, string, string];
        const annotation = await ctx.client().annotations.get({ datasetId, assetId, annotationId, signal: ctx.signal });
        ctx.out.result(
          () => {
            for (const line of details(annotation)) ctx.out.line(line);
          },
          () => annotation,
        );
      }),
    );

  annotations
    .command("delete")
    .description("delete one annotation")
    .argument("<datasetId>", "the dataset")
    .argument("<assetId>", "the asset")
    .argument("<annotationId>", "the annotation")
    .action(
      actionOf<object>(deps, state, async (ctx, _opts, args) => {
        const [datasetId, assetId, annotationId] = args as [string, string, string];
        const deleted = await ctx.client().annotations.delete({ datasetId, assetId, annotationId, signal: ctx.signal });
        ctx.out.result(
          () => ctx.out.line(`Deleted annotation ${deleted.annotationId}`),
          () => deleted,
        );
      }),
    );
}
