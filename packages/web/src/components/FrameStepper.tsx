import { useEffect, useRef, useState, type RefObject } from "react";

interface DecodedFrame {
  image: { displayWidth: number; displayHeight: number; close(): void };
}
interface FrameDecoder {
  decode(options: { frameIndex: number }): Promise<DecodedFrame>;
  close(): void;
}
type DecoderConstructor = new (init: { data: ReadableStream<Uint8Array>; type: string }) => FrameDecoder;

const decoderClass = () => (globalThis as { ImageDecoder?: DecoderConstructor }).ImageDecoder;

/** Whether this browser can decode single frames (WebCodecs' ImageDecoder). */
export const canStepFrames = (): boolean => decoderClass() !== undefined;

export interface Frames {
  canvas: RefObject<HTMLCanvasElement | null>;
  frame: number;
  count: number;
  error: string | undefined;
  show(index: number): void;
}

/** The frames of an animation decoded in the browser, one drawn at a time on `canvas` (off while `url` is undefined). */
export function useFrames(
  url: string | undefined,
  mimeType: string,
  count: number,
  onSize: (w: number, h: number) => void,
): Frames {
  const canvas = useRef<HTMLCanvasElement>(null);
  const decoder = useRef<FrameDecoder>(undefined);
  const [frame, setFrame] = useState(0);
  const [error, setError] = useState<string>();
  const sized = useRef(onSize);
  sized.current = onSize;

  useEffect(() => {
    const Decoder = decoderClass();
    if (!Decoder || !url) return;
    const controller = new AbortController();
    fetch(url, { signal: controller.signal, credentials: "omit" })
      .then(async (res) => {
        if (!res.ok || !res.body) throw new Error(`The file answered ${res.status}`);
        decoder.current = new Decoder({ data: res.body, type: mimeType });
        setFrame(0);
        const size = await drawFrame(decoder.current, canvas.current, 0);
        if (size) sized.current(size.width, size.height);
      })
      .catch((err: unknown) => !controller.signal.aborted && setError(String(err)));
    return () => {
      controller.abort();
      decoder.current?.close();
      decoder.current = undefined;
    };
  }, [url, mimeType]);

  const show = (index: number) => {
    const next = (index + count) % count;
    setFrame(next);
    void drawFrame(decoder.current, canvas.current, next).catch((err: unknown) => setError(String(err)));
  };
  return { canvas, frame, count, error, show };
}

/** Previous and next frame, and a slider over all of them. */
export function FrameControls({ frames }: { frames: Frames }) {
  return (
    <span className="frame-controls">
      <button type="button" onClick={() => frames.show(frames.frame - 1)} aria-label="Previous frame">
        ‹
      </button>
      <input
        type="range"
        min={1}
        max={frames.count}
        value={frames.frame + 1}
        aria-label="Frame"
        onChange={(e) => frames.show(Number(e.target.value) - 1)}
      />
      <span data-testid="frame-number">
        Frame {frames.frame + 1} of {frames.count}
      </span>
      <button type="button" onClick={() => frames.show(frames.frame + 1)} aria-label="Next frame">
        ›
      </button>
      {frames.error && <span className="error">{frames.error}</span>}
    </span>
  );
}

async function drawFrame(decoder: FrameDecoder | undefined, canvas: HTMLCanvasElement | null, index: number) {
  if (!decoder || !canvas) return undefined;
  const { image } = await decoder.decode({ frameIndex: index });
  canvas.width = image.displayWidth;
  canvas.height = image.displayHeight;
  canvas.getContext("2d")?.drawImage(image as unknown as CanvasImageSource, 0, 0);
  image.close();
  return { width: canvas.width, height: canvas.height };
}
