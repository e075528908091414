// The two ways to sign: an injected EIP-1193 wallet (MetaMask and friends), or a demo wallet
// — one of the local chain's public dev keys, offered by /v1/config only in demo mode.

import {
  createPublicClient,
  createWalletClient,
  custom,
  getAddress,
  type Address,
  type EIP1193Provider,
  type Hex,
  type TypedDataDefinition,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { TypedDataJson } from "../api/types";

/** Any EIP-712 payload (viem checks the message against its types at run time). */
export type TypedData = TypedDataDefinition<Record<string, readonly { name: string; type: string }[]>, string>;

/** EIP-712 JSON from the API as viem wants it (the domain type is implied by the domain). */
export function fromJson(json: TypedDataJson): TypedData {
  const { EIP712Domain: _domain, ...types } = json.types;
  return { domain: json.domain, types, primaryType: json.primaryType, message: json.message } as TypedData;
}

/** An EIP-1559 transaction ready to sign (fees in wei). */
export interface UnsignedTx {
  chainId: number;
  nonce: number;
  to: Address;
  data: Hex;
  gas: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

export interface Wallet {
  kind: "injected" | "demo";
  label: string;
  address: Address;
  signMessage(message: string): Promise<Hex>;
  signTypedData(data: TypedData): Promise<Hex>;
  /** Demo wallets sign transactions that the studio broadcasts (they have no node of their own). */
  signTransaction?(tx: UnsignedTx): Promise<Hex>;
  /** Injected wallets send transactions themselves; resolves with the hash once mined. */
  sendTransaction?(to: Address, data: Hex): Promise<{ hash: Hex; logs: readonly { address: Address; topics: readonly Hex[]; data: Hex }[]; success: boolean }>;
}

declare global {
  interface Window {
    ethereum?: EIP1193Provider;
  }
}

export function hasInjectedWallet(): boolean {
  return typeof window.ethereum?.request === "function";
}

export function demoWallet(label: string, privateKey: string): Wallet {
  const account = privateKeyToAccount(privateKey as Hex);
  return {
    kind: "demo",
    label,
    address: account.address,
    signMessage: (message) => account.signMessage({ message }),
    signTypedData: (data) => account.signTypedData(data),
    signTransaction: (tx) => account.signTransaction({ ...tx, type: "eip1559" }),
  };
}

/** Ask the injected wallet for an account (`request` false: only one already connected). */
export async function injectedWallet(request = true): Promise<Wallet> {
  const provider = window.ethereum;
  if (!provider) {
    throw new Error("No browser wallet found. Install one (for example MetaMask) or use a demo wallet.");
  }
  const client = createWalletClient({ transport: custom(provider) });
  const addresses = request ? await client.requestAddresses() : await client.getAddresses();
  const first = addresses[0];
  if (!first) throw new Error("Your wallet shared no account. Unlock it and try again.");
  const address = getAddress(first);
  return {
    kind: "injected",
    label: "Browser wallet",
    address,
    signMessage: (message) => client.signMessage({ account: address, message }),
    signTypedData: (data) => client.signTypedData({ account: address, ...data }),
    sendTransaction: async (to, data) => {
      const hash = await client.sendTransaction({ account: address, chain: null, to, data });
      const receipt = await createPublicClient({ transport: custom(provider) }).waitForTransactionReceipt({ hash });
      return { hash, logs: receipt.logs, success: receipt.status === "success" };
    },
  };
}
