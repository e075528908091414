// The EIP-712 `ModelTerms` a creator signs for the VoiceRegistry (contracts/eip712.py).

import type { Address, Hex } from "viem";
import type { Shares } from "./shares";

export const MODEL_TERMS_TYPES = {
  ModelTerms: [
    { name: "creator", type: "address" },
    { name: "payout", type: "address" },
    { name: "artifactHash", type: "bytes32" },
    { name: "metadataURI", type: "string" },
    { name: "creatorBps", type: "uint16" },
    { name: "fanBps", type: "uint16" },
    { name: "platformBps", type: "uint16" },
    { name: "pricePerPlay", type: "uint256" },
    { name: "approvalRequired", type: "bool" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

export interface TermsDraft {
  creator: Address;
  payout: Address;
  artifactSha256: string; // hex, no 0x
  metadataUri: string;
  shares: Shares;
  pricePerPlay: bigint; // token base units
  approvalRequired: boolean;
  nonce: bigint;
  deadline: bigint; // unix seconds
}

export function modelTermsTypedData(chainId: number, registry: Address, t: TermsDraft) {
  return {
    domain: { name: "Timbre VoiceRegistry", version: "1", chainId, verifyingContract: registry },
    types: MODEL_TERMS_TYPES,
    primaryType: "ModelTerms" as const,
    message: {
      creator: t.creator,
      payout: t.payout,
      artifactHash: `0x${t.artifactSha256}` as Hex,
      metadataURI: t.metadataUri,
      creatorBps: t.shares[0],
      fanBps: t.shares[1],
      platformBps: t.shares[2],
      pricePerPlay: t.pricePerPlay,
      approvalRequired: t.approvalRequired,
      nonce: t.nonce,
      deadline: t.deadline,
    },
  };
}

export type ModelTermsTypedData = ReturnType<typeof modelTermsTypedData>;
