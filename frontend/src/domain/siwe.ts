// EIP-4361 (Sign-In with Ethereum) message text, as the studio checks it.

export interface SiweFields {
  domain: string; // location.host
  address: string; // EIP-55 checksummed
  uri: string; // location.origin
  chainId: number;
  nonce: string;
  issuedAt: Date;
  statement?: string;
}

export function siweMessage(f: SiweFields): string {
  const lines = [`${f.domain} wants you to sign in with your Ethereum account:`, f.address, ""];
  if (f.statement) lines.push(f.statement, "");
  lines.push(
    `URI: ${f.uri}`,
    "Version: 1",
    `Chain ID: ${f.chainId}`,
    `Nonce: ${f.nonce}`,
    `Issued At: ${f.issuedAt.toISOString()}`,
  );
  return lines.join("\n");
}
