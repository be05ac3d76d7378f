/**
 * Loading whole listings: following the API's keyset pages (`{items, next_cursor}`, `next_cursor` null on
 * the last page) with a bound, so a huge account or a server that never ends the chain cannot hang the
 * terminal; and `LatestLoad`, so a slow older load never overwrites what a newer one set.
 */

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface PagingLimits {
  /** stop once this many items are collected (the result is cut to it) */
  maxItems: number;
  /** stop after this many requests, whatever they returned */
  maxPages: number;
}

export interface AllPages<T> {
  items: T[];
  /** false when a limit stopped the walk before the last page */
  complete: boolean;
}

/** Every page from the first (`cursor` null) through `next_cursor` until it is null or a limit is reached.
 * Pages are requested one after another; the first error (an abort included) rejects the whole walk. */
export async function fetchAllPages<T>(
  fetchPage: (cursor: string | null) => Promise<Page<T>>,
  limits: PagingLimits,
): Promise<AllPages<T>> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < limits.maxPages; pages++) {
    const page = await fetchPage(cursor);
    items.push(...page.items);
    cursor = page.next_cursor;
    if (cursor === null) return { items: items.slice(0, limits.maxItems), complete: items.length <= limits.maxItems };
    if (items.length >= limits.maxItems) return { items: items.slice(0, limits.maxItems), complete: false };
  }
  return { items, complete: false };
}

/** One load at a time: starting a load (or cancelling) aborts the one in flight and marks it stale, so its
 * late answers are dropped even when they arrive after the newer load finished. */
export class LatestLoad {
  private gen = 0;
  private ctrl: AbortController | null = null;

  /** A new load: the signal to pass to its requests, and a check to make before it sets any state. */
  start(): { signal: AbortSignal; isLatest: () => boolean } {
    this.cancel();
    const ctrl = new AbortController();
    const gen = this.gen;
    this.ctrl = ctrl;
    return { signal: ctrl.signal, isLatest: () => this.gen === gen };
  }

  /** Abort the load in flight, if any; nothing it answers counts any more. */
  cancel(): void {
    this.ctrl?.abort();
    this.ctrl = null;
    this.gen++;
  }
}
