/**
 * The logged-in account's live state: balances (REST + `balances` channel), open orders (REST + `orders`
 * channel) and order notifications. `version` increases whenever an order changes, so history views know
 * when to reload.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import type { Balance, Order, OrderPage } from "../api/types";
import { useSession } from "../lib/hooks";
import { api } from "../lib/http";
import { isOpen, OrderTracker } from "../lib/orderEvents";
import { ws } from "../lib/ws";
import { useToasts } from "./Toasts";

interface AccountState {
  balances: Map<string, Balance>;
  openOrders: Order[];
  version: number;
  noteOrder: (o: Order) => void;
  reload: () => void;
}

const Ctx = createContext<AccountState>({
  balances: new Map(),
  openOrders: [],
  version: 0,
  noteOrder: () => undefined,
  reload: () => undefined,
});

export function useAccount(): AccountState {
  return useContext(Ctx);
}

export function AccountProvider({ children }: { children: ReactNode }) {
  const session = useSession();
  // who is logged in, not just whether: logging in as another account must reload everything
  const who = session?.email ?? null;
  const loggedIn = who !== null;
  const toasts = useToasts();
  const [balances, setBalances] = useState<Map<string, Balance>>(new Map());
  const [openOrders, setOpenOrders] = useState<Order[]>([]);
  const [version, setVersion] = useState(0);
  const tracker = useRef(new OrderTracker());

  const reload = useCallback(() => {
    if (who === null) return;
    api<Balance[]>("GET", "/api/balances").then(
      (list) => setBalances(new Map(list.map((b) => [b.asset, b]))),
      () => undefined,
    );
    api<OrderPage>("GET", "/api/orders", { query: { status: "open", limit: 200 } }).then(
      (body) => {
        const list = body.items;
        for (const o of list) tracker.current.note(o); // known orders: no "accepted" toast on load
        setOpenOrders(list.filter(isOpen));
      },
      () => undefined,
    );
  }, [who]);

  const noteOrder = useCallback(
    (o: Order) => {
      const n = tracker.current.note(o);
      if (n) toasts.push(n.kind, n.title, n.body);
      setOpenOrders((prev) => {
        const rest = prev.filter((x) => String(x.id) !== String(o.id));
        if (!isOpen(o)) return rest;
        const old = prev.find((x) => String(x.id) === String(o.id));
        // never let an older state overwrite a newer one
        if (old && Number(old.updated_at ?? 0) > Number(o.updated_at ?? 0)) return prev;
        return [o, ...rest];
      });
      setVersion((v) => v + 1);
    },
    [toasts],
  );

  useEffect(() => {
    // a new account (or none) starts from nothing: no balance or order of the previous one stays on screen
    setBalances(new Map());
    setOpenOrders([]);
    tracker.current = new OrderTracker();
    if (!loggedIn) return;
    reload();
    const offOrders = ws.subscribe("orders", (msg) => {
      const data = msg.data;
      for (const o of (Array.isArray(data) ? data : [data]) as Order[]) if (o && o.id !== undefined) noteOrder(o);
    });
    const offBalances = ws.subscribe("balances", (msg) => {
      const data = msg.data;
      setBalances((prev) => {
        const next = new Map(prev);
        for (const b of (Array.isArray(data) ? data : [data]) as Balance[]) if (b && b.asset) next.set(b.asset, b);
        return next;
      });
    });
    // after a reconnect, reload what we may have missed, once the private channels push again
    const offOpen = ws.onPrivateSubscribed(reload);
    return () => {
      offOrders();
      offBalances();
      offOpen();
    };
  }, [loggedIn, who, reload, noteOrder]);

  const value = useMemo(
    () => ({ balances, openOrders, version, noteOrder, reload }),
    [balances, openOrders, version, noteOrder, reload],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}
