/**
 * The decoder process's entry (dist/media/decode/worker.js), started by the pool with
 * child_process.fork. It decodes one request at a time and answers over IPC. A crash here
 * (a native fault in libvips, a wasm abort, running out of memory) ends this process only.
 */
import sharp from "sharp";
import { decoderFor } from "./decoders.js";
import type { DecodeMessage, ReadyMessage, ResultMessage } from "./protocol.js";
import { DecodeError } from "./types.js";

// One decode at a time per process; parallelism is the pool's number of processes.
sharp.cache(false);
sharp.concurrency(1);

async function handle(message: DecodeMessage): Promise<ResultMessage> {
  const { id, request, maxPixels } = message;
  try {
    const decoder = decoderFor(request.mimeType);
    if (!decoder) throw new DecodeError("EDECODE", `no decoder reads ${request.mimeType}`);
    const image = await decoder.decode(request, { maxPixels });
    return { id, ok: true, image };
  } catch (error) {
    if (error instanceof DecodeError) return { id, ok: false, code: error.code, message: error.message };
    const text = error instanceof Error ? error.message : String(error);
    // Reading the blob failed, or a library threw something unforeseen: still this file's decode.
    return { id, ok: false, code: "EDECODE", message: text };
  }
}

process.on("message", (message: DecodeMessage) => {
  void handle(message).then((result) => process.send?.(result));
});
// The pool closing the channel (or dying) ends this process.
process.on("disconnect", () => process.exit(0));
const ready: ReadyMessage = { ready: true };
process.send?.(ready);
