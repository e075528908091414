import { describe, expect, it } from "vitest";
import { AmountError, baseUnitsToDollars, dollarsToBaseUnits } from "../src/domain/money";

describe("dollars ↔ base units (6 decimals)", () => {
  it.each([
    ["0.003", 3000n],
    ["1", 1_000_000n],
    ["$1,000.5", 1_000_500_000n],
    [".25", 250_000n],
    ["0.000001", 1n],
    ["0", 0n],
    [" 2.10 ", 2_100_000n],
  ])("%s dollars is %s base units", (text, units) => {
    expect(dollarsToBaseUnits(text, 6)).toBe(units);
  });

  it.each(["", ".", "abc", "1.2.3", "-1", "1e3", "0.0000001"])("refuses %j", (text) => {
    expect(() => dollarsToBaseUnits(text, 6)).toThrow(AmountError);
  });

  it("explains too many decimals in words", () => {
    expect(() => dollarsToBaseUnits("0.0000001", 6)).toThrow(/at most 6 decimal places/);
  });

  it.each([
    [3000n, "0.003"],
    [1_000_000n, "1.00"],
    [1_234_567n, "1.234567"],
    [0n, "0.00"],
    ["2500", "0.0025"],
  ])("%s base units shows as $%s", (units, text) => {
    expect(baseUnitsToDollars(units, 6)).toBe(text);
  });

  it("round-trips every amount exactly (no floating point)", () => {
    for (const units of [1n, 999_999n, 123_456_789_012_345_678n, 10n ** 18n - 1n]) {
      expect(dollarsToBaseUnits(baseUnitsToDollars(units, 6), 6)).toBe(units);
    }
  });
});
