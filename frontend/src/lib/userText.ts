/** Small translations from what the server or the user wrote to what the terminal needs. */
import { ApiError } from "./http";

/** The server's refusal in words for this form (a schema message quotes a regular expression). */
export function authError(err: unknown): string {
  if (!(err instanceof ApiError)) return "Something went wrong";
  if (err.code === "VALIDATION_ERROR" && err.message.startsWith("email")) return "Enter a valid email address";
  if (err.code === "VALIDATION_ERROR" && err.message.startsWith("password")) {
    return "The password must be 8 to 128 characters";
  }
  return errorText(err);
}

/** An API refusal as a sentence: the server's message with a capital first letter ("Wrong email or
 * password"), without its code, which belongs in a tooltip or a data attribute (`err.code`). */
export function errorText(err: ApiError): string {
  const m = err.message.trim();
  return m.charAt(0).toUpperCase() + m.slice(1);
}

/** What the order form says when placing an order ended without an answer (a network error, a timeout, a
 * server error): the order may have been placed or not, and a resend of the same order is safe (the form
 * sends it with the same `client_order_id`, which the API makes idempotent). Never "rejected": it may not be. */
/** A send that failed while the browser was offline: most likely never sent (said so); a resend is safe. */
export const ORDER_OFFLINE = {
  title: "You are offline",
  body: "The order was most likely not sent; send it again once back online: it will not be placed twice",
  line: "You are offline: the order was most likely not sent. Send it again once back online: it will not be placed twice",
} as const;

export const ORDER_STATUS_UNKNOWN = {
  title: "Order status unknown",
  body: "Check Open orders and Order history; sending it again will not place it twice",
  line: "Order status unknown: check Open orders and Order history; sending it again will not place it twice",
} as const;

/** Text reduced to what a search compares: upper case, without "-", "/", "_" or spaces. */
export function searchKey(query: string): string {
  return query.toUpperCase().replace(/[\s/_-]+/g, "");
}

/** Whether a market symbol matches the search text: "btcusdt", "btc/usdt", "BTC USDT", "btc_usdt" and
 * "btc-us" all find BTC-USDT. */
export function symbolMatches(symbol: string, query: string): boolean {
  return searchKey(symbol).includes(searchKey(query));
}

/** Asks before "Cancel all" (of `symbol`'s orders, or of every market's), counting the open orders shown;
 * true when the user agrees. */
export function askCancelAll(
  open: readonly { symbol: string }[],
  symbol: string | undefined,
  complete: boolean,
  confirm: (question: string) => boolean,
): boolean {
  const count = symbol ? open.filter((o) => o.symbol === symbol).length : open.length;
  return confirm(cancelAllPrompt(count, symbol, complete));
}

/** The question before "Cancel all": how many open orders it cancels, on which market when it is scoped to
 * one ("+" when the terminal does not list them all). */
export function cancelAllPrompt(count: number, symbol?: string, complete = true): string {
  const n = `${count.toLocaleString("en-US")}${complete ? "" : "+"}`;
  return `Cancel all ${n} open ${symbol ? `${symbol} ` : ""}order${count === 1 && complete ? "" : "s"}?`;
}
