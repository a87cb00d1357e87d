import type { Annotation, Asset } from "@vi/protocol";
import { formatBytes, formatTime } from "./format.js";

/** An asset's metadata as a definition list. */
export function AssetFacts({ asset, annotations }: { asset: Asset; annotations: Annotation[] }) {
  const m = asset.metadata;
  const tags = Object.entries(m.annotations.withTag)
    .map(([tag, n]) => `${tag} (${n})`)
    .join(", ");
  const facts: [string, string][] = [
    ["Asset id", asset.assetId],
    ["Type", m.mimeType],
    ["Size", `${formatBytes(m.fileSize)} (${m.fileSize.toLocaleString()} bytes)`],
    ["Dimensions", `${m.width} × ${m.height}${m.orientation !== 1 ? ` (EXIF orientation ${m.orientation})` : ""}`],
    ["Frames", String(m.frames)],
    ["Status", `${m.status}${m.statusReason ? `: ${m.statusReason}` : ""}`],
    ["Processing", m.uploadStatus],
    ["Created", formatTime(m.timeCreated)],
    ["Updated", formatTime(m.lastUpdated)],
    ["Annotations", `${m.annotations.total}${tags ? `: ${tags}` : ""}`],
    ["SHA-256", m.hash.contents],
  ];
  if (m.media) facts.push(["Decoded", `${m.media.decoder}, ${m.media.channels} channels, ${m.media.bitDepth}-bit`]);
  return (
    <section aria-labelledby="facts-title">
      <h3 id="facts-title">Metadata</h3>
      <dl className="facts">
        {facts.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      {annotations.length > 0 && (
        <ul className="annotation-list" aria-label="Annotations">
          {annotations.map((a) => (
            <li key={a.annotationId}>
              {a.spec.tagName ?? String(a.spec.tag)}
              {a.spec.contents.kind === "Caption" ? `: ${String(a.spec.contents.contents)}` : ""}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
