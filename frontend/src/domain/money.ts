// Money is an integer of token base units (the stablecoin has `decimals` = 6); dollars are
// only ever text typed by a person or shown to one. No floating point touches an amount.

export class AmountError extends Error {}

/** "0.003" → 3000n (decimals 6). Refuses more decimals than the token has. */
export function dollarsToBaseUnits(text: string, decimals: number): bigint {
  const clean = text.trim().replace(/^\$/, "").replace(/,/g, "");
  const m = /^(\d*)(?:\.(\d*))?$/.exec(clean);
  if (!clean || !m || (m[1] === "" && (m[2] ?? "") === "")) {
    throw new AmountError("Enter a price in dollars, for example 0.003.");
  }
  const whole = m[1] || "0";
  const frac = m[2] ?? "";
  if (frac.length > decimals) {
    throw new AmountError(`Use at most ${decimals} decimal places (1 base unit = $${formatUnit(decimals)}).`);
  }
  return BigInt(whole) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, "0") || "0");
}

/** 3000n → "0.003" (decimals 6); trailing zeros beyond the cents are dropped. */
export function baseUnitsToDollars(units: bigint | string, decimals: number): string {
  const value = typeof units === "bigint" ? units : BigInt(units);
  const scale = 10n ** BigInt(decimals);
  const whole = value / scale;
  let frac = (value % scale).toString().padStart(decimals, "0").replace(/0+$/, "");
  if (frac.length < 2) frac = frac.padEnd(2, "0");
  return `${whole}.${frac}`;
}

function formatUnit(decimals: number): string {
  return decimals === 0 ? "1" : `0.${"0".repeat(decimals - 1)}1`;
}
