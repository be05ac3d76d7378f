/**
 * The checks the "Change password" form makes before sending (`POST /api/auth/password`): the server's
 * length rule (8..128), the confirmation typed twice, and a new password other than the current one. The
 * rest (common passwords, the email) is the server's: its WEAK_PASSWORD message is shown as it comes.
 */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

export interface PasswordForm {
  current: string;
  next: string;
  confirm: string;
}

/** Why the form cannot be sent yet (a sentence), or null when it can. */
export function passwordFormProblem(f: PasswordForm): string | null {
  if (!f.current) return "Enter your current password";
  if (f.next.length < PASSWORD_MIN) return `The new password needs at least ${PASSWORD_MIN} characters`;
  if (f.next.length > PASSWORD_MAX) return `The new password may have at most ${PASSWORD_MAX} characters`;
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
