/**
 * The order form's `client_order_id`: what makes a resend of an order whose answer was lost safe.
 *
 * The API makes `POST /api/orders` idempotent per account by `client_order_id` (docs/api.md): the same id
 * with the same fields returns the original order, with other fields it is 409 DUPLICATE_CLIENT_ORDER_ID.
 * So the form sends one id per order it means to place:
 * - the same id for every send of the same order (same fields) until an answer settles it;
 * - a new id once an answer settles it (201, or a 4xx refusal: the order was placed, or it was not), and
 *   for an order with any other field (another price, amount, side, market...).
 * A request that ends without an answer (network error, timeout) or with a server error (5xx) settles
 * nothing: the order may or may not have been placed, and sending it again with the same id cannot place
 * it twice.
 */
import type { OrderCreate } from "../api/types";
import { ApiError } from "./http";

/** The API's pattern for a client order id: 1..36 of [A-Za-z0-9_-]. */
export const CLIENT_ORDER_ID_RE = /^[A-Za-z0-9_-]{1,36}$/;

/** A fresh id: "t" and 32 hex digits of the browser's random numbers (crypto.getRandomValues works on
 * plain http too, where crypto.randomUUID does not exist). */
export function newClientOrderId(random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): string {
  const bytes = random(new Uint8Array(16));
  return `t${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** The order's fields as one text, the same for the same order whatever the key order or an unset field. */
export function orderKey(body: OrderCreate): string {
  const b = body as unknown as Record<string, unknown>;
  const fields = ["symbol", "side", "type", "price", "qty", "quote_qty", "time_in_force", "post_only", "stp"];
  return JSON.stringify(fields.map((f) => b[f] ?? null));
}

/**
 * Whether a failed `POST /api/orders` leaves the order's fate unknown: no answer (a network error or a
 * timeout: `ApiError` code NETWORK, status 0), a server error or a gateway's (5xx, 408), or anything other
 * than an API error (an answer cut short, an aborted request). A 4xx refusal is an answer: the order was not
 * placed.
 */
export function outcomeUnknown(err: unknown): boolean {
  if (!(err instanceof ApiError)) return true;
  return err.status === 0 || err.status === 408 || err.status >= 500;
}

/** The id of the order being sent, kept across resends of the same order. */
export class ClientOrderIds {
  private current: { key: string; id: string } | null = null;

  constructor(private readonly fresh: () => string = () => newClientOrderId()) {}

  /** The id to send `body` with: the pending one for the same fields, else a new one (which becomes pending). */
  idFor(body: OrderCreate): string {
    const key = orderKey(body);
    if (!this.current || this.current.key !== key) this.current = { key, id: this.fresh() };
    return this.current.id;
  }

  /** An answer settled the pending order (placed, or refused): the next send is a new order. */
  settle(): void {
    this.current = null;
  }

  /** How a send ended: a 2xx answer or a refusal settles the order; an unknown outcome keeps the id for the
   * resend. Returns whether the outcome is unknown. */
  ended(err: unknown | null): boolean {
    const unknown = err !== null && outcomeUnknown(err);
    if (!unknown) this.settle();
    return unknown;
  }

  /** The id waiting for a resend, if any. */
  get pending(): string | null {
    return this.current?.id ?? null;
  }
}
