// Sending a platform's set-up steps (open, fund, withdraw) from its own wallet: an injected
// wallet sends them itself; a demo wallet signs each one and the studio broadcasts it.

import { decodeEventLog, getAddress, parseAbi, type Address, type Hex } from "viem";
import { api } from "../api/client";
import type { TxOutcome, TxStep } from "../api/types";
import type { Wallet } from "./wallet";

const ESCROW_EVENTS = parseAbi([
  "event ChannelOpened(uint256 indexed channelId, address indexed owner, address token, address signer)",
]);

/** Send one step and wait until it is mined; the outcome names the channel it opened. */
export async function sendStep(wallet: Wallet, step: TxStep): Promise<TxOutcome> {
  let outcome: TxOutcome;
  if (wallet.signTransaction) {
    const p = await api.txParams(step);
    const raw = await wallet.signTransaction({
      chainId: p.chain_id,
      nonce: p.nonce,
      to: getAddress(p.to),
      data: step.data as Hex,
      gas: BigInt(p.gas),
      maxFeePerGas: BigInt(p.max_fee_per_gas),
      maxPriorityFeePerGas: BigInt(p.max_priority_fee_per_gas),
    });
    outcome = await api.broadcast(raw);
  } else if (wallet.sendTransaction) {
    const sent = await wallet.sendTransaction(getAddress(step.to), step.data as Hex);
    outcome = { tx_hash: sent.hash, succeeded: sent.success, channel_id: openedChannel(sent.logs, step.to, wallet.address) };
  } else {
    throw new Error("This wallet cannot send transactions.");
  }
  if (!outcome.succeeded) {
    throw new Error(`The transaction failed on-chain (${outcome.tx_hash.slice(0, 10)}…): ${step.description}.`);
  }
  return outcome;
}

function openedChannel(
  logs: readonly { address: Address; topics: readonly Hex[]; data: Hex }[],
  escrow: string,
  owner: Address,
): string | null {
  for (const log of logs) {
    if (getAddress(log.address) !== getAddress(escrow)) continue;
    try {
      const e = decodeEventLog({ abi: ESCROW_EVENTS, topics: log.topics as [Hex, ...Hex[]], data: log.data });
      if (getAddress(e.args.owner) === owner) return e.args.channelId.toString();
    } catch {
      // another escrow event
    }
  }
  return null;
}
