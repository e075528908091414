import { hashTypedData, recoverMessageAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { siweMessage } from "../src/domain/siwe";
import { modelTermsTypedData } from "../src/domain/terms";

// anvil's dev account 5 (a public test key): the demo creator.
const KEY = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba";
const CREATOR = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc";

describe("EIP-712 ModelTerms", () => {
  it("hashes exactly as contracts/eip712.py's model_terms_digest", () => {
    const typed = modelTermsTypedData(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3", {
      creator: CREATOR,
      payout: CREATOR,
      artifactSha256: "ab".repeat(32),
      metadataUri: "ipfs://voice",
      shares: [6000, 2500, 1500],
      pricePerPlay: 2000n,
      approvalRequired: true,
      nonce: 3n,
      deadline: 1_800_000_000n,
    });
    // Computed with the Python side for the same terms (the test vector is the contract).
    expect(hashTypedData(typed)).toBe(
      "0x51394f24a5e22d9962a664ccbef9418ab53b24921fa34fce47a063f133508781",
    );
  });
});

describe("EIP-4361 sign-in message", () => {
  const message = siweMessage({
    domain: "127.0.0.1:8000",
    address: CREATOR,
    uri: "http://127.0.0.1:8000",
    chainId: 31337,
    nonce: "0123456789abcdef",
    issuedAt: new Date(Date.UTC(2026, 10, 25, 12, 0, 0)),
    statement: "Sign in to Timbre.",
  });

  it("follows the EIP-4361 layout", () => {
    expect(message).toBe(
      [
        "127.0.0.1:8000 wants you to sign in with your Ethereum account:",
        CREATOR,
        "",
        "Sign in to Timbre.",
        "",
        "URI: http://127.0.0.1:8000",
        "Version: 1",
        "Chain ID: 31337",
        "Nonce: 0123456789abcdef",
        "Issued At: 2026-11-25T12:00:00.000Z",
      ].join("\n"),
    );
  });

  it("is signed with personal_sign by the demo wallet's key", async () => {
    const signature = await privateKeyToAccount(KEY).signMessage({ message });
    expect(await recoverMessageAddress({ message, signature })).toBe(CREATOR);
  });
});
