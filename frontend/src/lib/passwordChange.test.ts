import { describe, expect, it } from "vitest";
import { passwordChangedText, passwordFormProblem } from "./passwordChange";

describe("passwordFormProblem", () => {
  const ok = { current: "old secret", next: "a new passphrase", confirm: "a new passphrase" };
  it("lets a complete form go", () => {
    expect(passwordFormProblem(ok)).toBeNull();
  });
  it("says what is missing or wrong, the first problem first", () => {
    expect(passwordFormProblem({ ...ok, current: "" })).toBe("Enter your current password");
    expect(passwordFormProblem({ ...ok, next: "short", confirm: "short" })).toBe("The new password needs at least 8 characters");
    expect(passwordFormProblem({ ...ok, next: "x".repeat(129), confirm: "x".repeat(129) })).toBe("The new password may have at most 128 characters");
    expect(passwordFormProblem({ ...ok, next: "old secret", confirm: "old secret" })).toBe("The new password is the current one: choose another");
    expect(passwordFormProblem({ ...ok, confirm: "a new passphrasE" })).toBe("The two new passwords differ");
  });
});

describe("passwordChangedText", () => {
  it("counts the other devices logged out", () => {
    expect(passwordChangedText(0)).toBe("No other device was logged in");
    expect(passwordChangedText(1)).toBe("1 other device was logged out");
    expect(passwordChangedText(1200)).toBe("1,200 other devices were logged out");
  });
});
