import { describe, expect, it } from "vitest";
import { ApiError } from "./http";
import { authError, searchKey } from "./userText";

describe("authError", () => {
  it("says what to fix instead of quoting the schema's regular expression", () => {
    const email = new ApiError(422, "VALIDATION_ERROR", 'email: Expected `str` matching regex "^[A-Za-z0-9._%+\'-]{1,64}@..."');
    expect(authError(email)).toBe("Enter a valid email address");
    const password = new ApiError(422, "VALIDATION_ERROR", "password: Expected `str` of length >= 8");
    expect(authError(password)).toBe("The password must be 8 to 128 characters");
  });
  it("keeps other refusals with their code", () => {
    expect(authError(new ApiError(401, "INVALID_CREDENTIALS", "wrong email or password"))).toBe(
      "wrong email or password (INVALID_CREDENTIALS)",
    );
    expect(authError(new Error("boom"))).toBe("Something went wrong");
  });
});

describe("searchKey", () => {
  it("finds a pair written as it is displayed, with a slash, a space or an underscore", () => {
    for (const q of ["btc/usdt", " BTC USDT ", "btc_usdt", "BTC-USDT"]) expect(searchKey(q)).toBe("BTC-USDT");
    expect("ETH-USDT".includes(searchKey("eth"))).toBe(true);
  });
});
