/**
 * The checks the "Change password" form makes before sending (`POST /api/auth/password`): the server's
 * length rule (8..128), the confirmation typed twice, and a new password other than the current one. The
 * rest (common passwords, the email) is the server's: its WEAK_PASSWORD message is shown as it comes.
 */
import type { ApiError } from "./http";
import { errorText } from "./userText";

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

export interface PasswordForm {
  current: string;
  next: string;
  confirm: string;
}

/** Characters as the server counts them (code points: an emoji is one, not two UTF-16 units). */
function characters(s: string): number {
  return [...s].length;
}

/** Why the form cannot be sent yet (a sentence), or null when it can. */
export function passwordFormProblem(f: PasswordForm): string | null {
  if (!f.current) return "Enter your current password";
  if (characters(f.next) < PASSWORD_MIN) return `The new password needs at least ${PASSWORD_MIN} characters`;
  if (characters(f.next) > PASSWORD_MAX) return `The new password may have at most ${PASSWORD_MAX} characters`;
  if (f.next === f.current) return "The new password is the current one: choose another";
  if (f.confirm !== f.next) return "The two new passwords differ";
  return null;
}

/** The notice after a change: how many other devices it logged out. */
export function passwordChangedText(sessionsEnded: number): string {
  if (sessionsEnded === 0) return "No other device was logged in";
  const n = sessionsEnded.toLocaleString("en-US");
  return `${n} other device${sessionsEnded === 1 ? " was" : "s were"} logged out`;
}

/** A refusal of the change as a sentence: the field rules in the form's words, the rest as the server says
 * it (a wrong current password, a password guessers try first). */
export function passwordChangeError(err: ApiError): string {
  if (err.code === "VALIDATION_ERROR" && err.message.startsWith("new_password")) {
    return `The new password must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`;
  }
  if (err.code === "VALIDATION_ERROR" && err.message.startsWith("current_password")) {
    return "Enter your current password";
  }
  return errorText(err);
}
