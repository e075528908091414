// The three royalty shares in basis points; they always add up to 10,000 (100 %).

export const TOTAL_BPS = 10_000;
export const STEP_BPS = 50; // the sliders move in 0.5 % steps

export type Shares = readonly [creator: number, fan: number, platform: number];
export const SHARE_NAMES = ["Creator", "Fan", "Platform"] as const;

/** Set share `index` to `value` (snapped to the step); the share touched least recently
 * (first in `order`, other than `index`) absorbs the difference, and the remaining one only
 * gives way when that is not enough — so the person's latest choices stay as they set them. */
export function rebalance(shares: Shares, index: number, value: number, order: readonly number[]): Shares {
  const v = Math.min(TOTAL_BPS, Math.max(0, Math.round(value / STEP_BPS) * STEP_BPS));
  const absorber = order.find((i) => i !== index) ?? (index + 1) % 3;
  const other = 3 - index - absorber;
  const out = [0, 0, 0];
  out[index] = v;
  out[other] = shares[other]!;
  out[absorber] = TOTAL_BPS - v - out[other]!;
  if (out[absorber]! < 0) {
    out[absorber] = 0;
    out[other] = TOTAL_BPS - v;
  }
  return [out[0]!, out[1]!, out[2]!];
}

/** `order` after share `index` was touched (least recent first). */
export function touched(order: readonly number[], index: number): number[] {
  return [...order.filter((i) => i !== index), index];
}

/** The initial order: the platform fee gives way first, then the fan share. */
export const INITIAL_ORDER: readonly number[] = [2, 1, 0];

export function percent(bps: number): string {
  return `${(bps / 100).toFixed(bps % 100 === 0 ? 0 : 1)} %`;
}
