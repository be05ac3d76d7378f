import { describe, expect, it } from "vitest";
import { ApiError } from "./http";
import { passwordChangedText, passwordChangeError, passwordFormProblem } from "./passwordChange";

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
  it("counts characters as the server does: four emoji are four, not eight", () => {
    const emoji = "😀🔒🔑🎉";
    expect(passwordFormProblem({ ...ok, next: emoji, confirm: emoji })).toBe("The new password needs at least 8 characters");
    const long = "😀".repeat(128);
    expect(passwordFormProblem({ ...ok, next: long, confirm: long })).toBeNull();
  });
});

describe("passwordChangedText", () => {
  it("counts the other devices logged out", () => {
    expect(passwordChangedText(0)).toBe("No other device was logged in");
    expect(passwordChangedText(1)).toBe("1 other device was logged out");
    expect(passwordChangedText(1200)).toBe("1,200 other devices were logged out");
  });
});

describe("passwordChangeError", () => {
  it("says a field rule in the form's words and passes the server's other refusals on", () => {
    const short = new ApiError(422, "VALIDATION_ERROR", "new_password: Expected a string of at least 8 characters");
    expect(passwordChangeError(short)).toBe("The new password must be 8 to 128 characters");
    expect(passwordChangeError(new ApiError(403, "WRONG_PASSWORD", "the current password is wrong"))).toBe(
      "The current password is wrong",
    );
  });
});
