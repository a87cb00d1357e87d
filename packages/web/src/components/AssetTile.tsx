import { memo, useState } from "react";
import type { Asset } from "@vi/protocol";
import { formatBytes } from "./format.js";

/** What a tile shows: its thumbnail, or why there is none. */
export type TileState = "ready" | "processing" | "error" | "no-preview";

export function tileState(asset: Asset): TileState {
  if (asset.metadata.status === "error") return "error";
  if (asset.metadata.uploadStatus === "processing" || asset.metadata.thumbnail === "pending") return "processing";
  return asset.contents?.thumbnail ? "ready" : "no-preview";
}

/**
 * A tile scrolled away before its thumbnail came cancels the request (dropping `src` aborts
 * it), so that after a fast flick the tiles on screen do not wait behind hundreds gone by.
 */
function cancelOnUnmount(img: HTMLImageElement | null) {
  return () => {
    if (img && !img.complete) img.removeAttribute("src");
  };
}

/** One asset in the grid: thumbnail, status, and its filename and size on hover or focus. */
export const AssetTile = memo(function AssetTile(props: {
  asset: Asset | undefined;
  index: number;
  total: number;
  selected: boolean;
  focused: boolean;
  /** The grid is being flicked through: ask for no thumbnail yet (one already asked for stays). */
  deferThumbnail?: boolean;
  onActivate(index: number, event: { shiftKey: boolean; toggle: boolean }): void;
  onOpen(index: number): void;
}) {
  const { asset, index, selected, focused } = props;
  const [loaded, setLoaded] = useState(false);
  const [wanted, setWanted] = useState(!props.deferThumbnail);
  if (!wanted && !props.deferThumbnail) setWanted(true);
  if (!asset)
    return (
      <div
        className="tile tile-loading"
        id={`tile-${index}`}
        data-tile="blank"
        role="option"
        aria-selected={false}
        aria-busy="true"
      >
        <span className="visually-hidden">Loading asset {index + 1}</span>
      </div>
    );
  const state = tileState(asset);
  const caption = `${asset.filename}, ${formatBytes(asset.metadata.fileSize)}`;
  const thumb = asset.contents?.thumbnail?.url;
  return (
    <div
      className={`tile tile-${state}${selected ? " selected" : ""}`}
      role="option"
      id={`tile-${index}`}
      aria-selected={selected}
      aria-posinset={index + 1}
      aria-setsize={props.total}
      aria-label={`${caption}${state === "ready" ? "" : `, ${state.replace("-", " ")}`}`}
      tabIndex={focused ? 0 : -1}
      title={caption}
      data-tile={state === "ready" && !loaded ? "blank" : "shown"}
      data-asset-id={asset.assetId}
      onClick={(e) => {
        if (e.shiftKey || e.ctrlKey || e.metaKey) props.onActivate(index, { shiftKey: e.shiftKey, toggle: true });
        else props.onOpen(index);
      }}
    >
      {state === "ready" && thumb ? (
        wanted && (
          <img
            src={thumb}
            alt={asset.filename}
            decoding="async"
            draggable={false}
            onLoad={() => setLoaded(true)}
            ref={cancelOnUnmount}
          />
        )
      ) : (
        <span className="tile-status" aria-hidden="true">
          {state === "processing" ? "Processing…" : state === "error" ? "Error" : "No preview"}
          <small>{asset.metadata.statusReason ?? asset.metadata.mimeType}</small>
        </span>
      )}
      {/* The mouse's way to select (the keyboard's is Space): not focusable, so the option holds no control. */}
      <span
        className="tile-check"
        aria-hidden="true"
        data-checked={selected}
        onClick={(e) => {
          e.stopPropagation();
          props.onActivate(index, { shiftKey: e.shiftKey, toggle: true });
        }}
      >
        {selected ? "✓" : ""}
      </span>
      <span className="tile-caption" aria-hidden="true">
        <span>{asset.filename}</span>
        <span>{formatBytes(asset.metadata.fileSize)}</span>
      </span>
    </div>
  );
});
