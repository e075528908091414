// Who is signed in: the bearer session, the account's roles and the wallet that signs for it.
// The token lives in sessionStorage (this tab only) and is dropped on sign-out or expiry.

import { getAddress } from "viem";
import { api, onSessionExpired, setToken } from "./api/client";
import type { Config, Me, Role } from "./api/types";
import { siweMessage } from "./domain/siwe";
import { demoWallet, injectedWallet, type Wallet } from "./wallet/wallet";

const KEY = "timbre.session";

interface Stored {
  token: string;
  address: string;
  expires_at: string;
  wallet: "injected" | "demo";
}

export interface Session {
  token: string;
  address: string;
  roles: Role[];
  expiresAt: Date;
  walletKind: "injected" | "demo";
  walletLabel: string;
}

type Listener = (s: Session | null, reason?: string) => void;

let current: Session | null = null;
let wallet: Wallet | null = null;
let config: Config | null = null;
const listeners = new Set<Listener>();

function emit(reason?: string): void {
  listeners.forEach((l) => l(current, reason));
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function session(): Session | null {
  return current;
}

export function hasRole(role: Role): boolean {
  return current?.roles.includes(role) ?? false;
}

function demoLabel(address: string): string | null {
  const match = config?.demo_wallets.find((w) => getAddress(w.address) === getAddress(address));
  return match ? match.label : null;
}

function adopt(stored: Stored, me: Me): void {
  setToken(stored.token);
  current = {
    token: stored.token,
    address: getAddress(me.address),
    roles: me.roles,
    expiresAt: new Date(me.session_expires_at),
    walletKind: stored.wallet,
    walletLabel: stored.wallet === "demo" ? (demoLabel(me.address) ?? "Demo wallet") : "Browser wallet",
  };
  sessionStorage.setItem(KEY, JSON.stringify(stored));
}

function clear(reason?: string): void {
  setToken(null);
  current = null;
  wallet = null;
  sessionStorage.removeItem(KEY);
  emit(reason);
}

/** Restore this tab's session, if it is still valid. */
export async function restoreSession(cfg: Config): Promise<void> {
  config = cfg;
  onSessionExpired(() => clear("Your session has ended. Please sign in again."));
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return;
  let stored: Stored;
  try {
    stored = JSON.parse(raw) as Stored;
  } catch {
    sessionStorage.removeItem(KEY);
    return;
  }
  setToken(stored.token);
  try {
    adopt(stored, await api.me());
    emit();
  } catch {
    clear();
  }
}

/** EIP-4361 sign-in with `w`: nonce → message → personal_sign → session token. */
export async function signIn(w: Wallet): Promise<void> {
  if (!config) throw new Error("The app is still loading; try again.");
  const { nonce } = await api.nonce();
  const message = siweMessage({
    domain: location.host,
    address: w.address,
    uri: location.origin,
    chainId: config.chain_id,
    nonce,
    issuedAt: new Date(),
    statement: "Sign in to Timbre.",
  });
  const signature = await w.signMessage(message);
  const out = await api.signIn(message, signature);
  const stored: Stored = {
    token: out.token,
    address: out.address,
    expires_at: out.expires_at,
    wallet: w.kind,
  };
  setToken(out.token);
  const me = await api.me();
  wallet = w;
  adopt(stored, me);
  if (w.kind === "demo") current!.walletLabel = w.label;
  emit();
}

export async function signOut(): Promise<void> {
  try {
    await api.logout();
  } finally {
    clear();
  }
}

export async function addRole(role: "creator" | "fan"): Promise<void> {
  const me = await api.addRole(role);
  if (current) current = { ...current, roles: me.roles };
  emit();
}

/** Reload the account's roles (registering a platform grants the platform role). */
export async function refreshRoles(): Promise<void> {
  const me = await api.me();
  if (current) current = { ...current, roles: me.roles };
  emit();
}

/** The wallet that signs for the signed-in account (reconnected after a reload). */
export async function signingWallet(): Promise<Wallet> {
  if (!current) throw new Error("Sign in first.");
  if (wallet && wallet.address === current.address) return wallet;
  let w: Wallet;
  if (current.walletKind === "demo") {
    const demo = config?.demo_wallets.find((d) => getAddress(d.address) === current!.address);
    if (!demo) throw new Error("This demo wallet is no longer offered; sign in again.");
    w = demoWallet(demo.label, demo.private_key);
  } else {
    w = await injectedWallet(true);
  }
  if (w.address !== current.address) {
    throw new Error(
      `Your wallet is on account ${w.address}, but you signed in as ${current.address}. Switch accounts in your wallet.`,
    );
  }
  wallet = w;
  return w;
}
