/**
 * Where the log-in and sign-up pages return to: the page the trader came from, carried as `?next=` in the
 * auth route ("#/login?next=%23%2Ftrade%2FBTC-USDT"). Only this terminal's own hash routes are followed, so
 * a crafted link cannot send a fresh login to another site.
 */

/** Where a login goes when there is no (acceptable) page to return to. */
export const AFTER_LOGIN = "#/markets";

const AUTH_PATHS = new Set(["/login", "/signup"]);

/** `next` when it is an internal hash route ("#/trade/BTC-USDT"), else null: it must start with "#/",
 * hold no "//", backslash, scheme (":"), whitespace or control character, and not be the auth pages. */
export function safeNext(next: string | null | undefined): string | null {
  if (typeof next !== "string" || !next.startsWith("#/")) return null;
  if (next.includes("//") || /[\\:\s\u0000-\u001f\u007f]/.test(next)) return null;
  if (AUTH_PATHS.has(splitRoute(next.slice(1)).path)) return null; // back to the login page: a loop
  return next;
}

/** A hash route without its "#" ("/login?next=...") as its path and its query parameters. */
export function splitRoute(route: string): { path: string; params: URLSearchParams } {
  const at = route.indexOf("?");
  return at < 0
    ? { path: route, params: new URLSearchParams() }
    : { path: route.slice(0, at), params: new URLSearchParams(route.slice(at + 1)) };
}

/** Whether the hash route (without "#") is the log-in or sign-up page. */
export function isAuthRoute(route: string): boolean {
  return AUTH_PATHS.has(splitRoute(route).path);
}

/** The page an auth route returns to: its acceptable `?next=`, or the markets. */
export function nextOf(route: string): string {
  return safeNext(splitRoute(route).params.get("next")) ?? AFTER_LOGIN;
}

/** The link to the log-in or sign-up page from the page at `route` (the hash route without "#"): it returns
 * there afterwards. From an auth page, the page that one returns to is kept. */
export function authHref(mode: "login" | "signup", route: string): string {
  const { path, params } = splitRoute(route);
  const next = AUTH_PATHS.has(path) ? safeNext(params.get("next")) : safeNext(`#${route}`);
  return next ? `#/${mode}?next=${encodeURIComponent(next)}` : `#/${mode}`;
}
