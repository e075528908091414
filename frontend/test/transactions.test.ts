import { afterEach, describe, expect, it, vi } from "vitest";
import {
  encodeAbiParameters,
  encodeEventTopics,
  getAddress,
  parseAbi,
  parseTransaction,
  recoverTransactionAddress,
  type Hex,
} from "viem";
import type { TxStep } from "../src/api/types";
import { sendStep } from "../src/wallet/transactions";
import { demoWallet, type Wallet } from "../src/wallet/wallet";

// anvil's first public dev key: a demo wallet exactly as /v1/config offers one.
const KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcab7bbf9e2a2b9c1b";
const ESCROW: Hex = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const STEP: TxStep = { description: "Open a channel", to: ESCROW, data: "0x12345678", value: "0" };

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

afterEach(() => vi.unstubAllGlobals());

describe("sending a platform's set-up step", () => {
  it("a demo wallet signs the studio's parameters and the studio broadcasts it", async () => {
    const wallet = demoWallet("Demo platform", KEY);
    const requests: { url: string; body: string | null }[] = [];
    vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
      requests.push({ url, body: (init.body as string | undefined) ?? null });
      if (url.startsWith("/v1/channels/transaction-params")) {
        return json({
          chain_id: 31337,
          sender: wallet.address,
          to: ESCROW,
          nonce: 7,
          gas: "120000",
          max_fee_per_gas: "3000000000",
          max_priority_fee_per_gas: "1000000000",
        });
      }
      return json({ tx_hash: `0x${"ab".repeat(32)}`, succeeded: true, channel_id: "4" });
    });
    const outcome = await sendStep(wallet, STEP);
    expect(outcome.channel_id).toBe("4");
    expect(requests[0]!.url).toContain(`to=${encodeURIComponent(ESCROW)}`);
    const raw = JSON.parse(requests[1]!.body!).raw as Hex;
    const tx = parseTransaction(raw);
    expect(tx).toMatchObject({ chainId: 31337, nonce: 7, gas: 120000n, data: STEP.data, type: "eip1559" });
    expect(getAddress(tx.to!)).toBe(ESCROW);
    expect(await recoverTransactionAddress({ serializedTransaction: raw as never })).toBe(wallet.address);
  });

  it("says in words when the transaction failed on-chain", async () => {
    vi.stubGlobal("fetch", async (url: string) =>
      url.startsWith("/v1/channels/transaction-params")
        ? json({ chain_id: 1, sender: ESCROW, to: ESCROW, nonce: 0, gas: "1", max_fee_per_gas: "1", max_priority_fee_per_gas: "1" })
        : json({ tx_hash: `0x${"cd".repeat(32)}`, succeeded: false, channel_id: null }),
    );
    await expect(sendStep(demoWallet("Demo platform", KEY), STEP)).rejects.toThrow(
      "The transaction failed on-chain (0xcdcdcdcd…): Open a channel.",
    );
  });

  it("an injected wallet sends it; the channel comes from the receipt's ChannelOpened", async () => {
    const owner = getAddress("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
    const abi = parseAbi([
      "event ChannelOpened(uint256 indexed channelId, address indexed owner, address token, address signer)",
    ]);
    const topics = encodeEventTopics({ abi, eventName: "ChannelOpened", args: { channelId: 9n, owner } }) as Hex[];
    const data = encodeAbiParameters([{ type: "address" }, { type: "address" }], [ESCROW, owner]);
    const other = { address: getAddress("0x0000000000000000000000000000000000000001"), topics, data };
    const wallet: Wallet = {
      kind: "injected",
      label: "Browser wallet",
      address: owner,
      signMessage: vi.fn(),
      signTypedData: vi.fn(),
      sendTransaction: vi.fn(async () => ({
        hash: `0x${"ef".repeat(32)}` as Hex,
        success: true,
        // A lookalike log from another contract is ignored.
        logs: [other, { address: ESCROW as Hex, topics, data }],
      })),
    };
    const fetchSpy = vi.fn();
    vi.stubGlobal("fetch", fetchSpy);
    const outcome = await sendStep(wallet, STEP);
    expect(outcome).toEqual({ tx_hash: `0x${"ef".repeat(32)}`, succeeded: true, channel_id: "9" });
    expect(wallet.sendTransaction).toHaveBeenCalledWith(ESCROW, STEP.data);
    expect(fetchSpy).not.toHaveBeenCalled();
  });
});
