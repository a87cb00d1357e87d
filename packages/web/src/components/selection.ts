/**
 * Which assets are selected: some, by id, or all that match the view's query (then the bulk
 * delete sends the query itself, so assets not yet paged in are taken too).
 */
export interface Selection {
  all: boolean;
  ids: ReadonlySet<string>;
  has(assetId: string): boolean;
}

export const emptySelection = (): Selection => someSelected(new Set());

export function someSelected(ids: ReadonlySet<string>): Selection {
  return { all: false, ids, has: (id) => ids.has(id) };
}

export function allSelected(): Selection {
  return { all: true, ids: new Set(), has: () => true };
}
