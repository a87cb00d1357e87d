import { useEffect, useRef, useState } from "react";

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

/** The frames of an animation one at a time, decoded in the browser, with a frame slider. */
export function FrameStepper(props: { url: string; mimeType: string; frames: number; label: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const decoder = useRef<FrameDecoder>(undefined);
  const [frame, setFrame] = useState(0);
  const [error, setError] = useState<string>();

  useEffect(() => {
    const Decoder = decoderClass();
    if (!Decoder) return;
    const controller = new AbortController();
    fetch(props.url, { signal: controller.signal, credentials: "omit" })
      .then((res) => {
        if (!res.ok || !res.body) throw new Error(`The file answered ${res.status}`);
        decoder.current = new Decoder({ data: res.body, type: props.mimeType });
        setFrame(0);
        return drawFrame(decoder.current, canvas.current, 0);
      })
      .catch((err: unknown) => !controller.signal.aborted && setError(String(err)));
    return () => {
      controller.abort();
      decoder.current?.close();
      decoder.current = undefined;
    };
  }, [props.url, props.mimeType]);

  const show = (index: number) => {
    const next = (index + props.frames) % props.frames;
    setFrame(next);
    void drawFrame(decoder.current, canvas.current, next).catch((err: unknown) => setError(String(err)));
  };

  return (
    <figure className="frames">
      <canvas ref={canvas} role="img" aria-label={`${props.label}, frame ${frame + 1} of ${props.frames}`} />
      <figcaption onPointerDown={(e) => e.stopPropagation()}>
        <button type="button" onClick={() => show(frame - 1)} aria-label="Previous frame">
          ‹
        </button>
        <input
          type="range"
          min={1}
          max={props.frames}
          value={frame + 1}
          aria-label="Frame"
          onChange={(e) => show(Number(e.target.value) - 1)}
        />
        <span data-testid="frame-number">
          Frame {frame + 1} of {props.frames}
        </span>
        <button type="button" onClick={() => show(frame + 1)} aria-label="Next frame">
          ›
        </button>
        {error && <span className="error">{error}</span>}
      </figcaption>
    </figure>
  );
}

async function drawFrame(decoder: FrameDecoder | undefined, canvas: HTMLCanvasElement | null, index: number) {
  if (!decoder || !canvas) return;
  const { image } = await decoder.decode({ frameIndex: index });
  canvas.width = image.displayWidth;
  canvas.height = image.displayHeight;
  canvas.getContext("2d")?.drawImage(image as unknown as CanvasImageSource, 0, 0);
  image.close();
}
