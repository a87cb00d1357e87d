import { useEffect, useState, type RefObject } from "react";

/** Faster than this (about 35 rows of tiles a second) nobody is looking at the tiles going by. */
const FAST_PX_PER_SECOND = 6_000;
/** Scrolling is over when no scroll event came for this long. */
const SETTLE_MS = 120;

/**
 * Whether the element is being flicked through faster than anyone looks at it. The grid then
 * asks for no thumbnails: a flick through 1,500 tiles would queue 1,500 requests, and the
 * tiles it stops on would wait behind them (seen: still blank 1.5 s after the stop). Reading
 * speed loads thumbnails as they come; the stop loads the screen it stops on at once.
 */
export function useFastScroll(ref: RefObject<HTMLElement | null>): boolean {
  const [fast, setFast] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    let lastTop = el.scrollTop;
    let lastTime = performance.now();
    let settle: ReturnType<typeof setTimeout> | undefined;
    const onScroll = () => {
      const now = performance.now();
      const dt = now - lastTime;
      // Two events in one frame say nothing about speed; wait for the next.
      if (dt >= 8) {
        setFast((Math.abs(el.scrollTop - lastTop) / dt) * 1000 > FAST_PX_PER_SECOND);
        lastTop = el.scrollTop;
        lastTime = now;
      }
      clearTimeout(settle);
      settle = setTimeout(() => {
        lastTop = el.scrollTop;
        lastTime = performance.now();
        setFast(false);
      }, SETTLE_MS);
    };
    el.addEventListener("scroll", onScroll, { passive: true });
    return () => {
      el.removeEventListener("scroll", onScroll);
      clearTimeout(settle);
    };
  }, [ref]);
  return fast;
}
