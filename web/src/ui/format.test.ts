import { describe, expect, it } from "vitest";
import { band, formatMoney } from "./format";
import { ApiError, describeError } from "../api/errors";

describe("format", () => {
  it("puts scores in bands at 30, 60 and 80", () => {
    expect([band(null), band(0), band(29), band(30), band(60), band(80), band(100)]).toEqual([
      "unscored", "low", "low", "moderate", "elevated", "high", "high",
    ]);
  });
  it("prints money without cents and unknown amounts as words", () => {
    expect(formatMoney("750.00")).toBe("$750");
    expect(formatMoney(null)).toBe("unknown");
  });
});

describe("errors", () => {
  it("never shows raw JSON", () => {
    expect(describeError(new ApiError(403, "forbidden", "role viewer may not x"))).toMatch(/role does not allow/);
    expect(describeError(new ApiError(401, "unauthorized", "token expired"))).toMatch(/session has expired/);
    expect(describeError(new TypeError("fetch failed"))).toMatch(/cannot be reached/);
    expect(describeError(new ApiError(500, "internal", "boom", "req-1"))).toMatch(/reference req-1/);
    const invalid = new ApiError(422, "invalid", "bad", null, [{ loc: ["body", "name"], msg: "too short" }]);
    expect(describeError(invalid)).toBe("Please check the form: name: too short");
  });
});
