import { useEffect, useState } from "react";
import type { ViApi } from "../api/client.js";
import { tileState } from "../components/AssetTile.js";
import type { AssetPages } from "./useAssetPages.js";

const EVERY_MS = 1500;
const AT_ONCE = 50;

/** While loaded assets are still processing, reads them again now and then so their thumbnails appear. */
export function useProcessingWatch(api: ViApi, datasetId: string, pages: AssetPages): void {
  const waiting = pages.assets.filter((a) => tileState(a) === "processing").slice(0, AT_ONCE);
  const key = waiting.map((a) => a.assetId).join(",");
  const { replace } = pages;
  const [round, setRound] = useState(0);
  useEffect(() => {
    if (!key) return;
    let live = true;
    const timer = setTimeout(async () => {
      const fresh = await Promise.all(key.split(",").map((id) => api.asset(datasetId, id).catch(() => undefined)));
      if (!live) return;
      replace(fresh.filter((a) => a !== undefined));
      setRound((r) => r + 1);
    }, EVERY_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [api, datasetId, key, replace, round]);
}
