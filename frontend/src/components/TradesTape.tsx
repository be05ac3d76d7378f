/** Recent trades, newest first (the data: `useTrades` in lib/hooks.ts, which the page's header shares). */
import type { Trade } from "../api/types";
import { format } from "../lib/money";

function time(ts: number | string): string {
  const d = new Date(typeof ts === "number" ? ts : Number(ts) || Date.parse(String(ts)));
  return d.toLocaleTimeString([], { hour12: false });
}

export function TradesTape(props: { trades: Trade[]; priceDecimals: number; qtyDecimals: number }) {
  const { trades } = props;
  return (
    <div className="card trades-card">
      <div className="card-head">
        <h2>Trades</h2>
      </div>
      <div className="book-cols muted small">
        <span>Price</span>
        <span>Amount</span>
        <span>Time</span>
      </div>
      <div className="trades-list" data-testid="trades" data-last-id={trades[0]?.id ?? ""}>
        {trades.map((t) => (
          <div key={t.id} className="trade-row">
            <span className={t.side === "sell" ? "down" : "up"}>{format(t.price, props.priceDecimals)}</span>
            <span>{format(t.qty, props.qtyDecimals)}</span>
            <span className="muted">{time(t.ts)}</span>
          </div>
        ))}
        {trades.length === 0 && <div className="muted small center pad">No trades yet</div>}
      </div>
    </div>
  );
}
