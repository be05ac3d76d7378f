/**
 * REST client: JSON in and out, the bearer token from the session, one silent refresh and retry on 401,
 * and the API's error body `{"error": {"code", "message"}}` turned into an `ApiError`.
 */
import { getSession, refreshSession } from "./session";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | boolean | undefined | null>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  auth?: boolean;
  signal?: AbortSignal;
}

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

async function send(method: string, path: string, opts: RequestOptions, token: string | undefined): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(withQuery(path, opts.query), {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: opts.signal,
  });
}

/** The access token, waiting for the first refresh of a session restored without one. */
async function accessToken(): Promise<string | undefined> {
  const s = getSession();
  if (s && !s.accessToken) return (await refreshSession())?.accessToken;
  return s?.accessToken;
}

/** Raw authorised fetch (used for downloads); refreshes once on 401. */
export async function authFetch(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
  const wantsAuth = opts.auth !== false;
  let res = await send(method, path, opts, wantsAuth ? await accessToken() : undefined);
  if (res.status === 401 && wantsAuth && getSession()) {
    const s = await refreshSession();
    if (s) res = await send(method, path, opts, s.accessToken);
  }
  return res;
}

export async function errorFrom(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText || "Request failed";
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string }; detail?: string };
    if (body?.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
    } else if (typeof body?.detail === "string") {
      message = body.detail;
    }
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, code, message);
}

export async function api<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  let res: Response;
  try {
    res = await authFetch(method, path, opts);
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, "NETWORK", "The server cannot be reached");
  }
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}
