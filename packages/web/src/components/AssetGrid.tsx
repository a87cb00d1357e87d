import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { AssetPages } from "../hooks/useAssetPages.js";
import { useFastScroll } from "../hooks/useFastScroll.js";
import { AssetTile } from "./AssetTile.js";
import type { Selection } from "./selection.js";

const TILE = 176; // px, the tile's side with its gap
const OVERSCAN_ROWS = 8;

/**
 * The virtualised grid: only the rows on screen (and a few beyond) exist in the DOM, and pages
 * are read ahead of the last row shown. Keyboard: arrows and Home/End move, Page Up/Down by a
 * screen, Enter opens, Space selects (Shift+Space a range), Ctrl+A selects all matching.
 */
export function AssetGrid(props: {
  pages: AssetPages;
  selection: Selection;
  onSelect(index: number, opts: { shiftKey: boolean; toggle: boolean }): void;
  onSelectAll(): void;
  onOpen(index: number): void;
  focusIndex: number;
  onFocusIndex(index: number): void;
}) {
  const { pages, selection, focusIndex } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const [columns, setColumns] = useState(4);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setColumns(Math.max(1, Math.floor((el.clientWidth - 16) / TILE)));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const rows = Math.ceil(pages.total / columns);
  const virtualizer = useVirtualizer({
    count: rows,
    getScrollElement: () => scroller.current,
    estimateSize: () => TILE,
    overscan: OVERSCAN_ROWS,
  });
  const items = virtualizer.getVirtualItems();
  const flicking = useFastScroll(scroller);
  const lastRow = items.length ? items[items.length - 1]!.index : 0;
  useEffect(() => pages.ensure((lastRow + 1) * columns), [lastRow, columns, pages]);

  const focusRendered = items.some((row) => row.index === Math.floor(focusIndex / columns));
  const focusTile = (index: number) => {
    const clamped = Math.max(0, Math.min(pages.total - 1, index));
    props.onFocusIndex(clamped);
    virtualizer.scrollToIndex(Math.floor(clamped / columns));
    requestAnimationFrame(() => document.getElementById(`tile-${clamped}`)?.focus());
  };
  const onKeyDown = (e: KeyboardEvent) => {
    const page = Math.max(1, Math.floor((scroller.current?.clientHeight ?? TILE) / TILE)) * columns;
    const moves: Record<string, number> = {
      ArrowRight: 1,
      ArrowLeft: -1,
      ArrowDown: columns,
      ArrowUp: -columns,
      PageDown: page,
      PageUp: -page,
    };
    if (e.key in moves) focusTile(focusIndex + moves[e.key]!);
    else if (e.key === "Home") focusTile(0);
    else if (e.key === "End") focusTile(pages.total - 1);
    else if (e.key === "Enter") props.onOpen(focusIndex);
    else if (e.key === " ") props.onSelect(focusIndex, { shiftKey: e.shiftKey, toggle: true });
    else if (e.key.toLowerCase() === "a" && (e.ctrlKey || e.metaKey)) props.onSelectAll();
    else return;
    e.preventDefault();
  };

  return (
    <div
      ref={scroller}
      className="grid-scroller"
      role="listbox"
      aria-label="Assets"
      aria-multiselectable="true"
      // The focused tile is the grid's tab stop; scrolled out of the DOM, the grid itself is, and
      // passes focus to the first tile on screen.
      tabIndex={focusRendered ? -1 : 0}
      onFocus={(e) => {
        if (e.target !== e.currentTarget) return;
        const onScreen = items.find((row) => row.start >= (virtualizer.scrollOffset ?? 0)) ?? items[0];
        if (onScreen) focusTile(onScreen.index * columns);
      }}
      onKeyDown={onKeyDown}
      data-testid="asset-grid"
    >
      <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
        {items.map((row) => (
          <div
            key={row.key}
            role="presentation"
            className="grid-row"
            style={{
              transform: `translateY(${row.start}px)`,
              gridTemplateColumns: `repeat(${columns}, ${TILE - 8}px)`,
            }}
          >
            {Array.from({ length: columns }, (_, c) => {
              const index = row.index * columns + c;
              if (index >= pages.total) return null;
              const asset = pages.assets[index];
              return (
                <AssetTile
                  key={asset?.assetId ?? `blank-${index}`}
                  asset={asset}
                  index={index}
                  total={pages.total}
                  selected={asset ? selection.has(asset.assetId) : false}
                  focused={index === focusIndex}
                  deferThumbnail={flicking}
                  onActivate={props.onSelect}
                  onOpen={props.onOpen}
                />
              );
            })}
          </div>
        ))}
      </div>
    </div>
  );
}
