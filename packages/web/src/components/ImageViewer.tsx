import { useLayoutEffect, useRef, useState, type PointerEvent, type WheelEvent } from "react";
import type { Annotation, Asset } from "@vi/protocol";
import { AnnotationOverlay } from "./AnnotationOverlay.js";
import { FrameControls, canStepFrames, useFrames } from "./FrameStepper.js";

/** Types a browser shows by itself; the others (TIFF, HEIC, JPEG 2000) are shown from their WebP preview. */
const BROWSER_TYPES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/bmp"]);
const MIN_ZOOM = 0.1;
const MAX_ZOOM = 32;
/** A small image is fitted up to this many times its size (then zoom takes over). */
const MAX_FIT = 8;

/**
 * The image at full size, fitted to the stage first: zoom with the wheel, the buttons or
 * + / - / 0, pan by dragging or with the arrow keys. Annotations are drawn in the image's own
 * box, so they follow zoom and pan.
 */
export function ImageViewer({ asset, annotations }: { asset: Asset; annotations: Annotation[] }) {
  const [zoom, setZoom] = useState(1);
  const [pan, setPan] = useState({ x: 0, y: 0 });
  const [frameMode, setFrameMode] = useState(false);
  const [natural, setNatural] = useState<{ width: number; height: number }>();
  const [stage, setStage] = useState({ width: 0, height: 0 });
  const stageRef = useRef<HTMLDivElement>(null);
  const drag = useRef<{ x: number; y: number; panX: number; panY: number }>(undefined);
  const m = asset.metadata;
  const native = BROWSER_TYPES.has(m.mimeType);
  const src = native ? asset.contents?.asset?.url : asset.contents?.thumbnail?.url;
  const animated = m.frames > 1 && native && canStepFrames();
  const frames = useFrames(frameMode ? src : undefined, m.mimeType, m.frames, (width, height) =>
    setNatural({ width, height }),
  );

  useLayoutEffect(() => {
    const el = stageRef.current;
    if (!el) return;
    const measure = () => setStage({ width: el.clientWidth - 16, height: el.clientHeight - 16 });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const fit = natural ? Math.min(MAX_FIT, stage.width / natural.width, stage.height / natural.height) : 1;
  const box = natural ? { width: natural.width * fit, height: natural.height * fit } : undefined;

  const zoomBy = (factor: number) => setZoom((z) => Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z * factor)));
  const reset = () => {
    setZoom(1);
    setPan({ x: 0, y: 0 });
  };
  const onWheel = (e: WheelEvent) => zoomBy(e.deltaY < 0 ? 1.2 : 1 / 1.2);
  const onPointerDown = (e: PointerEvent) => {
    (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
    drag.current = { x: e.clientX, y: e.clientY, panX: pan.x, panY: pan.y };
  };
  const onPointerMove = (e: PointerEvent) => {
    const d = drag.current;
    if (d) setPan({ x: d.panX + e.clientX - d.x, y: d.panY + e.clientY - d.y });
  };
  const onKeyDown = (e: React.KeyboardEvent) => {
    const step = 40;
    const keys: Record<string, () => void> = {
      "+": () => zoomBy(1.25),
      "=": () => zoomBy(1.25),
      "-": () => zoomBy(0.8),
      "0": reset,
      ArrowLeft: () => setPan((p) => ({ ...p, x: p.x + step })),
      ArrowRight: () => setPan((p) => ({ ...p, x: p.x - step })),
      ArrowUp: () => setPan((p) => ({ ...p, y: p.y + step })),
      ArrowDown: () => setPan((p) => ({ ...p, y: p.y - step })),
    };
    const action = e.altKey ? undefined : keys[e.key];
    if (!action) return;
    action();
    e.preventDefault();
    e.stopPropagation();
  };

  return (
    <div className="viewer">
      <div className="viewer-tools" role="toolbar" aria-label="Image view">
        <button type="button" onClick={() => zoomBy(0.8)} aria-label="Zoom out">
          −
        </button>
        <span aria-live="polite" data-testid="zoom-level">
          {Math.round(zoom * 100)}%
        </span>
        <button type="button" onClick={() => zoomBy(1.25)} aria-label="Zoom in">
          +
        </button>
        <button type="button" onClick={reset}>
          Fit
        </button>
        {animated && (
          <button type="button" aria-pressed={frameMode} onClick={() => setFrameMode((f) => !f)}>
            Step through {m.frames} frames
          </button>
        )}
        {frameMode && <FrameControls frames={frames} />}
        {!native && <span className="note">{m.mimeType}: shown from its preview</span>}
      </div>
      <div
        ref={stageRef}
        className="viewer-stage"
        tabIndex={0}
        role="group"
        aria-label={`${asset.filename}: drag or use the arrow keys to pan, + and - to zoom`}
        onWheel={onWheel}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={() => (drag.current = undefined)}
        onKeyDown={onKeyDown}
        data-testid="viewer-stage"
      >
        <div
          className="viewer-canvas"
          style={{ transform: `translate(${pan.x}px, ${pan.y}px) scale(${zoom})`, ...box }}
          data-testid="viewer-canvas"
        >
          {frameMode ? (
            <canvas
              ref={frames.canvas}
              role="img"
              aria-label={`${asset.filename}, frame ${frames.frame + 1} of ${m.frames}`}
            />
          ) : src ? (
            <img
              src={src}
              alt={asset.filename}
              draggable={false}
              onLoad={(e) => setNatural({ width: e.currentTarget.naturalWidth, height: e.currentTarget.naturalHeight })}
            />
          ) : (
            <p className="note">No preview of this asset ({m.statusReason ?? m.status}).</p>
          )}
          <AnnotationOverlay annotations={annotations} />
        </div>
      </div>
    </div>
  );
}
