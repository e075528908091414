// Bodies of the studio's public API (see /openapi.json). Money is a decimal string of token
// base units; shares are basis points (sum 10,000).

export interface DemoWallet {
  label: string;
  address: string;
  private_key: string;
}

export interface Deployment {
  chain_id: number;
  registry: string;
  escrow: string;
  distributor: string;
  token: string;
  epoch_genesis: number;
  epoch_length_s: number;
}

export interface Config {
  chain_id: number;
  public_url: string;
  token_decimals: number;
  max_upload_bytes: number;
  max_upload_duration_s: number;
  contracts: Deployment | null;
  demo_wallets: DemoWallet[];
}

export interface SessionOut {
  token: string;
  expires_at: string;
  address: string;
}

export type Role = "creator" | "fan" | "platform";

export interface Me {
  id: string;
  address: string;
  roles: Role[];
  session_expires_at: string;
}

export interface Upload {
  id: string;
  sha256: string;
  size_bytes: number;
  filename: string | null;
  format: string;
  duration_s: number;
  sample_rate: number;
  channels: number;
  created_at: string;
}

export interface SignedUrl {
  url: string;
  expires_at: string;
}

export interface Terms {
  version: number;
  payout_address: string;
  creator_bps: number;
  fan_bps: number;
  platform_bps: number;
  price_per_play: string;
  approval_required: boolean;
  metadata_uri: string | null;
  status: string;
  effective_epoch: number | null;
  created_at: string;
}

export interface Voice {
  id: string;
  creator_address: string;
  name: string;
  description: string | null;
  status: string;
  method: string | null;
  artifact_sha256: string | null;
  created_at: string;
  retired_at: string | null;
  terms: Terms | null;
}

export interface TermsIn {
  payout_address: string;
  creator_bps: number;
  fan_bps: number;
  platform_bps: number;
  price_per_play: string;
  approval_required: boolean;
  metadata_uri: string;
  nonce: string;
  deadline: number;
  signature: string;
}

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface Job {
  id: string;
  kind: "train" | "convert";
  status: JobStatus;
  stage: string;
  percent: number;
  voice_model_id: string | null;
  result_sha256: string | null;
  error: { code: string; message: string } | null;
  attempts: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface JobEvent {
  id: number;
  status: JobStatus;
  stage: string;
  percent: number;
  message: string | null;
  at: string;
}

export interface JobResult {
  job_id: string;
  kind: string;
  sha256: string;
  url: string | null;
  expires_at: string | null;
  voice_model_id: string | null;
}

export interface TrainJobIn {
  kind: "train";
  upload_ids: string[];
  name: string;
  description?: string;
  method: "baseline" | "neural";
  mode: "speech" | "singing";
}

export interface ConvertJobIn {
  kind: "convert";
  upload_id: string;
  voice_model_id: string;
  transpose: number;
  index_rate: number;
  protect: number;
  accompaniment_upload_id?: string;
}

export const TERMINAL: ReadonlySet<JobStatus> = new Set(["succeeded", "failed", "cancelled"]);

export type TrackStatus = "draft" | "pending_approval" | "published" | "rejected" | "retired";

export interface Track {
  id: string;
  title: string;
  voice_id: string;
  fan_address: string;
  content_sha256: string;
  onchain_id: string | null;
  status: TrackStatus;
  tx_hash: string | null;
  created_at: string;
  published_at: string | null;
  retired_at: string | null;
}

/** EIP-712 JSON as a wallet's eth_signTypedData_v4 takes it (types include EIP712Domain). */
export interface TypedDataJson {
  types: Record<string, { name: string; type: string }[]>;
  primaryType: string;
  domain: Record<string, unknown>;
  message: Record<string, unknown>;
}

export interface ApprovalRequest {
  track_id: string;
  deadline: number;
  typed_data: TypedDataJson;
}

export interface Payout {
  address: string;
  epoch: number | null;
  cumulative_amount: string; // base units
  claimed_onchain: string;
  claimable: string;
  root: string | null;
  root_active: boolean;
  proof: string[];
  distributor: string | null;
}

export interface EpochEarning {
  epoch: number;
  cumulative_amount: string;
  increment: string;
}

export interface TrackEarning {
  track_id: string | null;
  track_onchain_id: string;
  title: string | null;
  role: "creator" | "fan";
  epoch: number;
  gross: string;
  creator_amount: string;
  fan_amount: string;
  platform_amount: string;
  plays: number;
}

export interface Epoch {
  number: number;
  status: string;
  starts_at: string;
  ends_at: string;
  merkle_root: string | null;
  report_sha256: string | null;
  report_url: string | null;
  claimed_total: string;
  entitled_total: string;
  dust_total: string;
  claim_tx_hash: string | null;
  root_tx_hash: string | null;
  closed_at: string | null;
}

export interface Platform {
  id: string;
  name: string;
  wallet_address: string;
  channel_id: string | null;
  created_at: string;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** A new key: `key` is shown once and never again (the studio keeps only its hash). */
export interface ApiKeyCreated extends ApiKey {
  key: string;
}

/** The escrow channel with the chain's clock (the timed exit counts in chain time). */
export interface Channel {
  channel_id: string;
  platform_id: string;
  signer: string;
  balance: string;
  claimed_onchain: string;
  charged: string;
  pending_liability: string;
  available: string;
  last_seq: number;
  usage_size: number;
  usage_root: string;
  withdrawal_pending: boolean;
  withdraw_amount: string;
  withdraw_ready_at: number;
  chain_time: number;
  withdrawal_delay_s: number;
}

/** One transaction for the platform's wallet to send. */
export interface TxStep {
  description: string;
  to: string;
  data: string;
  value: string;
}

export interface ChannelSetup {
  chain_id: number;
  escrow: string;
  token: string;
  channel_id: string | null;
  faucet_available: boolean;
  steps: TxStep[];
}

export interface TxParams {
  chain_id: number;
  sender: string;
  to: string;
  nonce: number;
  gas: string;
  max_fee_per_gas: string;
  max_priority_fee_per_gas: string;
}

export interface TxOutcome {
  tx_hash: string;
  succeeded: boolean;
  channel_id: string | null;
}

export interface TrackUsage {
  epoch: number;
  track_id: string;
  track_onchain_id: string;
  title: string;
  plays: number;
  amount: string;
}

export type CheckStatus = "passed" | "failed" | "not_reached";

export interface EpochVerify {
  epoch: number;
  ok: boolean;
  root: string | null;
  report_sha256: string | null;
  checks: { name: string; description: string; status: CheckStatus }[];
  difference: { where: string; expected: string; reported: string } | null;
}
