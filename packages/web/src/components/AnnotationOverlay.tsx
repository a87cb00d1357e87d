import type { Annotation } from "@vi/protocol";

const COLORS = ["#ffb000", "#00c2ff", "#ff4f9a", "#7dff4f", "#c58bff"];

/** Bounding boxes over the image: `bound` is `[[x0, y0], [x1, y1]]` in fractions of the image. */
export function AnnotationOverlay({ annotations }: { annotations: Annotation[] }) {
  const boxes = annotations.flatMap((a) =>
    a.spec.contents.kind === "PhraseGroundingBoundingBox" ? [{ a, bound: a.spec.contents.bound }] : [],
  );
  if (boxes.length === 0) return null;
  return (
    <svg className="annotation-overlay" viewBox="0 0 1 1" preserveAspectRatio="none" aria-hidden="true">
      {boxes.map(({ a, bound }) => {
        const [[x0, y0] = [0, 0], [x1, y1] = [1, 1]] = bound as [number, number][];
        const color = COLORS[a.spec.tag % COLORS.length];
        return (
          <g key={a.annotationId}>
            <rect
              x={x0}
              y={y0}
              width={x1 - x0}
              height={y1 - y0}
              fill="none"
              stroke={color}
              strokeWidth={2}
              vectorEffect="non-scaling-stroke"
            />
            <text x={x0} y={y0} fill={color} fontSize={0.04} dy={0.04}>
              {a.spec.tagName}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
