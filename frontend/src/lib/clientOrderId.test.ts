import { describe, expect, it } from "vitest";
import type { OrderCreate } from "../api/types";
import { CLIENT_ORDER_ID_RE, ClientOrderIds, newClientOrderId, orderKey, outcomeUnknown } from "./clientOrderId";
import { ApiError } from "./http";

const order = (o: Partial<OrderCreate> = {}): OrderCreate => ({
  symbol: "BTC-USDT", side: "buy", type: "limit", price: "50000", qty: "0.001", time_in_force: "gtc", post_only: false, ...o,
});

function ids() {
  let n = 0;
  return new ClientOrderIds(() => `id-${++n}`);
}

const network = new ApiError(0, "NETWORK", "The server cannot be reached");

describe("client order id", () => {
  it("is a fresh id the API accepts: 1..36 of [A-Za-z0-9_-]", () => {
    const a = newClientOrderId();
    expect(a).toMatch(CLIENT_ORDER_ID_RE);
    expect(a.length).toBeLessThanOrEqual(36);
    expect(newClientOrderId()).not.toBe(a);
    expect(newClientOrderId((b) => b.fill(255))).toBe(`t${"ff".repeat(16)}`);
  });

  it("stays the same for a resend of the same order after an answer was lost", () => {
    const c = ids();
    const first = c.idFor(order());
    expect(c.ended(network)).toBe(true); // no answer: status unknown, the id waits for the resend
    expect(c.pending).toBe(first);
    expect(c.idFor(order())).toBe(first);
    expect(c.ended(new ApiError(502, "HTTP_502", "Bad Gateway"))).toBe(true);
    expect(c.idFor({ ...order(), client_order_id: first })).toBe(first); // the id itself is not a field
  });

  it("is renewed once an answer settles the order: placed (201) or refused (4xx)", () => {
    const c = ids();
    const first = c.idFor(order());
    expect(c.ended(null)).toBe(false); // 201
    expect(c.pending).toBeNull();
    const second = c.idFor(order()); // the same order again, on purpose: a second order
    expect(second).not.toBe(first);
    expect(c.ended(new ApiError(400, "INSUFFICIENT_FUNDS", "insufficient USDT balance"))).toBe(false);
    expect(c.idFor(order())).not.toBe(second);
    c.ended(new ApiError(409, "DUPLICATE_CLIENT_ORDER_ID", "client_order_id was used with other fields"));
    expect(c.pending).toBeNull();
  });

  it("is renewed when any field of the order changes", () => {
    const c = ids();
    const first = c.idFor(order());
    c.ended(network);
    const changes: Partial<OrderCreate>[] = [
      { price: "50001" }, { qty: "0.002" }, { side: "sell" }, { symbol: "ETH-USDT" }, { time_in_force: "ioc" },
      { post_only: true }, { type: "market", price: undefined, time_in_force: undefined },
      { type: "market", price: undefined, time_in_force: undefined, qty: undefined, quote_qty: "100" },
    ];
    const seen = new Set([first]);
    for (const change of changes) {
      const id = c.idFor(order(change));
      expect(seen.has(id), JSON.stringify(change)).toBe(false);
      seen.add(id);
    }
  });

  it("keys an order by its fields, not their order or an unset field", () => {
    const a = order();
    const b: OrderCreate = { post_only: false, time_in_force: "gtc", qty: "0.001", price: "50000", type: "limit", side: "buy", symbol: "BTC-USDT" };
    expect(orderKey(a)).toBe(orderKey(b));
    expect(orderKey({ ...a, quote_qty: null })).toBe(orderKey(a));
    expect(orderKey({ ...a, qty: "0.0010" })).not.toBe(orderKey(a));
  });

  it("counts no answer, a timeout and a server error as unknown, a refusal as an answer", () => {
    expect(outcomeUnknown(network)).toBe(true);
    expect(outcomeUnknown(new ApiError(500, "HTTP_500", ""))).toBe(true);
    expect(outcomeUnknown(new ApiError(503, "HTTP_503", "Service Unavailable"))).toBe(true);
    expect(outcomeUnknown(new ApiError(408, "HTTP_408", "Request Timeout"))).toBe(true);
    expect(outcomeUnknown(new SyntaxError("Unexpected end of JSON input"))).toBe(true); // a 201 cut short
    expect(outcomeUnknown(new ApiError(400, "INSUFFICIENT_FUNDS", "insufficient"))).toBe(false);
    expect(outcomeUnknown(new ApiError(409, "DUPLICATE_CLIENT_ORDER_ID", "used"))).toBe(false);
    expect(outcomeUnknown(new ApiError(422, "VALIDATION_ERROR", "qty"))).toBe(false);
    expect(outcomeUnknown(new ApiError(429, "RATE_LIMITED", "slow down"))).toBe(false);
  });
});
