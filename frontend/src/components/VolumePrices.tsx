/** The current buy and sell prices for a volume the user types: `GET /api/markets/{symbol}/estimate`,
 * asked again every few seconds while the amount is valid, so the figures follow the book. */
import { useEffect, useState } from "react";
import type { Market } from "../api/types";
import { decimalsOf } from "../lib/money";
import { useEstimate } from "../lib/useEstimate";
import { volumeProblem, volumeQuery, volumeRows } from "../lib/volumePrices";
import { DecimalField } from "./DecimalField";

export function VolumePrices({ market }: { market: Market }) {
  const [qty, setQty] = useState("");
  const problem = qty.trim() === "" ? null : volumeProblem(qty, market);
  const { estimate, error } = useEstimate(market.symbol, qty.trim() === "" || problem ? null : volumeQuery(qty));

  useEffect(() => {
    setQty("");
  }, [market.symbol]);

  const pd = decimalsOf(market.tick_size);
  const rows = estimate ? volumeRows(estimate, market, pd, market.quote_decimals) : [];
  return (
    <div className="card volume-prices" data-testid="volume-prices">
      <div className="card-head">
        <h2>Prices for a volume</h2>
      </div>
      <div className="volume-body">
        <label className="field">
          <span>Volume</span>
          <DecimalField
            name="volume"
            value={qty}
            placeholder={market.min_qty}
            onChange={setQty}
            aria-label={`Volume in ${market.base}`}
            aria-invalid={problem ? true : undefined}
          />
          <em>{market.base}</em>
        </label>
        {problem && <p className="small down" role="alert">{problem}</p>}
        {error && <p className="small down" role="alert">{error}</p>}
        {rows.map((r) => (
          <div key={r.side} className="volume-row" data-testid={`volume-${r.side}`}>
            <span className={r.side === "buy" ? "up" : "down"}>{r.label}</span>
            <span title={`worst price ${r.worstPrice}`}>avg {r.avgPrice}</span>
            <span className="muted small">
              {r.side === "buy" ? "you pay" : "you get"} ≈ {r.total}
            </span>
            {r.shortfall && <span className="muted small">{r.shortfall}</span>}
          </div>
        ))}
      </div>
    </div>
  );
}
