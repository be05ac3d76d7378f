/** Recent trades: the last REST page, then the `trades:SYM` channel (newest first). */
import { useEffect, useState } from "react";
import type { Trade } from "../api/types";
import { api } from "../lib/http";
import { format } from "../lib/money";
import { ws } from "../lib/ws";

const KEEP = 60;

function time(ts: number | string): string {
  const d = new Date(typeof ts === "number" ? ts : Number(ts) || Date.parse(String(ts)));
  return d.toLocaleTimeString([], { hour12: false });
}

export function TradesTape(props: { symbol: string; priceDecimals: number; qtyDecimals: number }) {
  const [trades, setTrades] = useState<Trade[]>([]);
  useEffect(() => {
    let alive = true;
    setTrades([]);
    const merge = (incoming: Trade[], replace = false) =>
      setTrades((prev) => {
        const all = replace ? [...incoming] : [...incoming, ...prev];
        const seen = new Set<string>();
        const out: Trade[] = [];
        for (const t of all.sort((a, b) => Number(b.id) - Number(a.id))) {
          const k = String(t.id);
          if (seen.has(k)) continue;
          seen.add(k);
          out.push(t);
          if (out.length >= KEEP) break;
        }
        return out;
      });
    const load = () =>
      api<Trade[]>("GET", `/api/markets/${props.symbol}/trades`, { query: { limit: KEEP }, auth: false }).then(
        (list) => alive && merge(list),
        () => undefined,
      );
    const off = ws.subscribe(`trades:${props.symbol}`, (msg) => {
      const d = msg.data;
      merge((Array.isArray(d) ? d : [d]) as Trade[]);
    });
    void load();
    const offOpen = ws.onOpen(() => void load());
    return () => {
      alive = false;
      off();
      offOpen();
    };
  }, [props.symbol]);

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
