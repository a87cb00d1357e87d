import type { UploadFile } from "../api/upload.js";

/**
 * The files of a drop, folders walked (through the entries API), each named by its path
 * inside what was dropped: dropping `cats/` gives `cats/001.jpg`.
 */
export async function filesOfDrop(data: DataTransfer): Promise<UploadFile[]> {
  const entries = Array.from(data.items)
    .map((item) => item.webkitGetAsEntry?.())
    .filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return Array.from(data.files).map((file) => ({ filename: file.name, file }));
  const out: UploadFile[] = [];
  for (const entry of entries) await walk(entry, out);
  return out;
}

async function walk(entry: FileSystemEntry, out: UploadFile[]): Promise<void> {
  const path = entry.fullPath.replace(/^\/+/, "");
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    if (!entry.name.startsWith(".")) out.push({ filename: path, file });
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  for (;;) {
    // readEntries answers at most 100 at a time: read until it answers none.
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const child of batch) await walk(child, out);
  }
}
