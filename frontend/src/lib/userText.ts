/** Small translations from what the server or the user wrote to what the terminal needs. */
import { ApiError } from "./http";

/** The server's refusal in words for this form (a schema message quotes a regular expression). */
export function authError(err: unknown): string {
  if (!(err instanceof ApiError)) return "Something went wrong";
  if (err.code === "VALIDATION_ERROR" && err.message.startsWith("email")) return "Enter a valid email address";
  if (err.code === "VALIDATION_ERROR" && err.message.startsWith("password")) {
    return "The password must be 8 to 128 characters";
  }
  return `${err.message} (${err.code})`;
}

/** The search text as a symbol fragment: "btc/usdt", "BTC USDT" and "btc_usdt" all find BTC-USDT. */
export function searchKey(query: string): string {
  return query.trim().toUpperCase().replace(/[\s/_]+/g, "-");
}
