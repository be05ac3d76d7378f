/** `GET /api/markets/{symbol}/estimate?qty=`: what a market order of `qty` would fill now, both sides, asked
 * again every few seconds so the figures follow the book. `qty` is plain text the server takes, or null
 * (nothing to ask: the previous answer is dropped). */
import { useEffect, useState } from "react";
import type { Estimate } from "../api/types";
import { api, ApiError } from "./http";
import { errorText } from "./userText";

const REFRESH_MS = 3000;
const DEBOUNCE_MS = 250;

export function useEstimate(symbol: string, qty: string | null): { estimate: Estimate | null; error: string | null } {
  const [estimate, setEstimate] = useState<Estimate | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setEstimate(null);
    setError(null);
    if (qty === null) return;
    const ctrl = new AbortController();
    let timer = 0;
    const ask = () =>
      api<Estimate>("GET", `/api/markets/${symbol}/estimate`, { query: { qty }, auth: false, signal: ctrl.signal })
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
  }, [qty, symbol]);
  return { estimate, error };
}
