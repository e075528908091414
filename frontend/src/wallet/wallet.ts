// The two ways to sign: an injected EIP-1193 wallet (MetaMask and friends), or a demo wallet
// — one of the local chain's public dev keys, offered by /v1/config only in demo mode.

import { createWalletClient, custom, getAddress, type Address, type EIP1193Provider, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { ModelTermsTypedData } from "../domain/terms";

export interface Wallet {
  kind: "injected" | "demo";
  label: string;
  address: Address;
  signMessage(message: string): Promise<Hex>;
  signTypedData(data: ModelTermsTypedData): Promise<Hex>;
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
  };
}
