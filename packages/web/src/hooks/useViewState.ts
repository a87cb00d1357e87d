import { useCallback, useMemo } from "react";
import { useLocation, useSearch } from "wouter";
import { SORT_CRITERIA, type AssetSortCriterion, type SortOrder } from "@vi/protocol";
import type { AssetQuery } from "../api/client.js";

/** The view of a dataset as the URL holds it (`?q=...&sort=...&order=...`), so it can be shared and reloaded. */
export interface ViewState {
  q: string;
  sort: AssetSortCriterion;
  order: SortOrder;
}

export function parseView(search: string): ViewState {
  const params = new URLSearchParams(search);
  const sort = params.get("sort") as AssetSortCriterion | null;
  return {
    q: params.get("q") ?? "",
    sort: sort && (SORT_CRITERIA as readonly string[]).includes(sort) ? sort : "default",
    order: params.get("order") === "desc" ? "desc" : "asc",
  };
}

export function viewSearch(view: ViewState): string {
  const params = new URLSearchParams();
  if (view.q) params.set("q", view.q);
  if (view.sort !== "default") params.set("sort", view.sort);
  if (view.order !== "asc") params.set("order", view.order);
  const text = params.toString();
  return text ? `?${text}` : "";
}

export function toAssetQuery(view: ViewState): AssetQuery {
  return { metadataQuery: view.q, sortBy: view.sort, order: view.order };
}

/** The current view and a way to change it (which writes the URL). */
export function useViewState(): [ViewState, (next: Partial<ViewState>) => void] {
  const search = useSearch();
  const [location, navigate] = useLocation();
  const view = useMemo(() => parseView(search), [search]);
  const setView = useCallback(
    (next: Partial<ViewState>) => navigate(`${location}${viewSearch({ ...view, ...next })}`),
    [location, navigate, view],
  );
  return [view, setView];
}
