/** The book's price for an order, asked again every few seconds so the figures follow the book:
 * - `useEstimate`: `GET /api/markets/{symbol}/estimate?qty=`, what a market order of `qty` would fill now,
 *   both sides;
 * - `useSpendEstimate`: `GET /api/markets/{symbol}/estimate/buy?quote_qty=`, what a market buy spending
 *   `quote_qty` would get now; with `side` "sell", `GET .../estimate/sell?quote_qty=`, what a market sell by
 *   total would sell (the base `quote_qty` is worth at the bids) and receive now (same shape).
 * The amount is plain text the server takes, or null (nothing to ask: the previous answer is dropped). */
import { useEffect, useState } from "react";
import type { Estimate, SpendEstimate } from "../api/types";
import { api, ApiError } from "./http";
import type { Side } from "./orderForm";
import { errorText } from "./userText";

const REFRESH_MS = 3000;
const DEBOUNCE_MS = 250;

function usePolled<T>(path: string, query: Record<string, string> | null): { estimate: T | null; error: string | null } {
  const [estimate, setEstimate] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const key = query === null ? null : JSON.stringify(query); // the effect runs again only when the amount changes
  useEffect(() => {
    setEstimate(null);
    setError(null);
    if (key === null) return;
    const ctrl = new AbortController();
    let timer = 0;
    const ask = () =>
      api<T>("GET", path, { query: JSON.parse(key) as Record<string, string>, auth: false, signal: ctrl.signal })
        .then(
          (e) => {
            if (ctrl.signal.aborted) return; // an answer for the previous amount, read before the abort
            setEstimate(e);
            setError(null);
          },
          (e: unknown) => {
            if (ctrl.signal.aborted || (e instanceof DOMException && e.name === "AbortError")) return;
            setError(e instanceof ApiError ? errorText(e) : "The estimate is unavailable");
          },
        )
        .finally(() => {
          if (!ctrl.signal.aborted) timer = window.setTimeout(ask, REFRESH_MS);
        });
    timer = window.setTimeout(ask, DEBOUNCE_MS);
    return () => {
      ctrl.abort();
      window.clearTimeout(timer);
    };
  }, [path, key]);
  return { estimate, error };
}

export function useEstimate(symbol: string, qty: string | null): { estimate: Estimate | null; error: string | null } {
  return usePolled<Estimate>(`/api/markets/${symbol}/estimate`, qty === null ? null : { qty });
}

export function useSpendEstimate(
  symbol: string,
  quoteQty: string | null,
  side: Side = "buy",
): { estimate: SpendEstimate | null; error: string | null } {
  return usePolled<SpendEstimate>(`/api/markets/${symbol}/estimate/${side}`, quoteQty === null ? null : { quote_qty: quoteQty });
}

/** One `GET /api/markets/{symbol}/estimate?qty=`, not polled: what the % buttons of a sell by total value an
 * amount of the balance at (lib/orderForm.ts sellTotalForEstimate). */
export function fetchEstimate(symbol: string, qty: string): Promise<Estimate> {
  return api<Estimate>("GET", `/api/markets/${symbol}/estimate`, { query: { qty }, auth: false });
}
