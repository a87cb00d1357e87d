import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Asset } from "@vi/protocol";
import type { AssetQuery, ViApi } from "../api/client.js";
import { type ApiError } from "../api/errors.js";

/** Assets per keyset page: a page is one request of signed URLs. */
export const PAGE_SIZE = 500;

export interface AssetPages {
  /** The assets loaded so far, in the view's order (keyset pages are read one after another). */
  assets: Asset[];
  /** How many the view holds: exact when the server counted, else what is known so far. */
  total: number;
  exact: boolean;
  loading: boolean;
  error: ApiError | Error | undefined;
  /** Loads pages until `index` (and a page beyond) is in hand. */
  ensure(index: number): void;
  reload(): void;
  /** Puts newer copies of loaded assets in their places (a thumbnail that came since). */
  replace(updated: Asset[]): void;
}

/**
 * The assets of a view, read page after page by keyset cursor. A deep jump (dragging the
 * scrollbar to the end) reads the pages in between: cursors cannot skip, but each page is as
 * fast at any depth.
 */
export function useAssetPages(api: ViApi, datasetId: string, query: AssetQuery): AssetPages {
  const [state, setState] = useState(() => initial());
  const wanted = useRef(0);
  const run = useRef<Run>(undefined);
  const [generation, setGeneration] = useState(0);
  const key = JSON.stringify(query);

  const pump = useCallback(async () => {
    const current = run.current;
    if (!current || current.busy || current.done) return;
    current.busy = true;
    try {
      while (!current.done && !current.controller.signal.aborted) {
        const loaded = current.loaded;
        if (loaded > 0 && loaded > wanted.current + PAGE_SIZE) break;
        setState((s) => ({ ...s, loading: true }));
        const page = await api.listAssets(
          datasetId,
          query,
          { token: current.token, size: PAGE_SIZE, count: loaded === 0 },
          current.controller.signal,
        );
        if (current.controller.signal.aborted) return;
        current.token = page.nextPage ?? undefined;
        current.done = !page.nextPage;
        current.loaded += page.items.length;
        setState((s) => {
          const assets = s.assets.concat(page.items);
          const counted = page.totalCount ?? s.counted;
          return {
            ...s,
            assets,
            counted,
            total: counted ?? assets.length + (current.done ? 0 : PAGE_SIZE),
            exact: counted !== undefined || current.done,
            loading: false,
          };
        });
      }
    } catch (err) {
      if (current.controller.signal.aborted) return;
      setState((s) => ({ ...s, loading: false, error: err as Error }));
    } finally {
      current.busy = false;
    }
  }, [api, datasetId, key]); // `key` stands for `query`, which callers may rebuild each render

  useEffect(() => {
    const controller = new AbortController();
    run.current = { controller, token: undefined, done: false, busy: false, loaded: 0 };
    wanted.current = 0;
    setState(initial());
    void pump();
    return () => controller.abort();
  }, [pump, generation]);

  const ensure = useCallback(
    (index: number) => {
      if (index <= wanted.current) return;
      wanted.current = index;
      void pump();
    },
    [pump],
  );
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const replace = useCallback((updated: Asset[]) => {
    const byId = new Map(updated.map((a) => [a.assetId, a]));
    setState((s) => ({ ...s, assets: s.assets.map((a) => byId.get(a.assetId) ?? a) }));
  }, []);
  return useMemo(() => ({ ...state, ensure, reload, replace }), [state, ensure, reload, replace]);
}

interface Run {
  controller: AbortController;
  token: string | undefined;
  done: boolean;
  busy: boolean;
  loaded: number;
}

function initial() {
  return {
    assets: [] as Asset[],
    counted: undefined as number | undefined,
    total: 0,
    exact: false,
    loading: true,
    error: undefined as ApiError | Error | undefined,
  };
}
