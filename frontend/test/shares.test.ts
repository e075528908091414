import { describe, expect, it } from "vitest";
import { INITIAL_ORDER, rebalance, TOTAL_BPS, touched, type Shares } from "../src/domain/shares";

const sum = (s: Shares) => s[0] + s[1] + s[2];

describe("three shares that always sum to 100 %", () => {
  it("takes from the share touched least recently (the platform fee first)", () => {
    let s: Shares = [5000, 4000, 1000];
    let order = [...INITIAL_ORDER];
    s = rebalance(s, 0, 6000, order);
    order = touched(order, 0);
    expect(s).toEqual([6000, 4000, 0]);
    s = rebalance(s, 1, 3000, order);
    order = touched(order, 1);
    expect(s).toEqual([6000, 3000, 1000]);
    s = rebalance(s, 2, 1500, order);
    order = touched(order, 2);
    expect(s).toEqual([5500, 3000, 1500]);
  });

  it("lets the other share give way when the first is used up", () => {
    expect(rebalance([5000, 4000, 1000], 0, 9500, INITIAL_ORDER)).toEqual([9500, 500, 0]);
    expect(rebalance([5000, 4000, 1000], 0, 10_000, INITIAL_ORDER)).toEqual([10_000, 0, 0]);
  });

  it("snaps to 0.5 % steps and clamps to 0..100 %", () => {
    expect(rebalance([5000, 4000, 1000], 0, 6024, INITIAL_ORDER)[0]).toBe(6000);
    expect(rebalance([5000, 4000, 1000], 0, 6026, INITIAL_ORDER)[0]).toBe(6050);
    expect(rebalance([5000, 4000, 1000], 1, -300, INITIAL_ORDER)).toEqual([5000, 0, 5000]);
    expect(rebalance([5000, 4000, 1000], 2, 20_000, INITIAL_ORDER)).toEqual([0, 0, 10_000]);
  });

  it("keeps the sum at 10,000 and every share in range for any sequence of moves", () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    let s: Shares = [5000, 4000, 1000];
    let order = [...INITIAL_ORDER];
    for (let step = 0; step < 2000; step++) {
      const i = Math.floor(rand() * 3);
      s = rebalance(s, i, Math.round(rand() * 12_000) - 1000, order);
      order = touched(order, i);
      expect(sum(s)).toBe(TOTAL_BPS);
      for (const v of s) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v % 50).toBe(0);
      }
    }
  });
});
