// The one HTTP client of the app: same-origin JSON calls with the session's bearer token.

import { ApiError, errorFromBody, NETWORK_ERROR } from "./errors";
import type {
  ApiKey,
  ApiKeyCreated,
  ApprovalRequest,
  Channel,
  ChannelSetup,
  Config,
  ConvertJobIn,
  Epoch,
  EpochEarning,
  EpochVerify,
  Job,
  JobResult,
  Me,
  Payout,
  Platform,
  Role,
  SessionOut,
  SignedUrl,
  Terms,
  TermsIn,
  Track,
  TrackEarning,
  TrackUsage,
  TrainJobIn,
  TxOutcome,
  TxParams,
  TxStep,
  Upload,
  Voice,
} from "./types";

let token: string | null = null;
const expiredListeners = new Set<() => void>();

export function setToken(value: string | null): void {
  token = value;
}

export function authHeader(): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Called when the server says the session is no longer valid (401 on a signed-in call). */
export function onSessionExpired(listener: () => void): void {
  expiredListeners.add(listener);
}

export function reportUnauthorized(status: number): void {
  if (status === 401 && token) {
    token = null;
    expiredListeners.forEach((l) => l());
  }
}

export async function readError(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // not JSON (a proxy's error page): the status decides the sentence
  }
  return errorFromBody(res.status, body);
}

async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const init: RequestInit = { method, headers: { Accept: "application/json", ...authHeader(), ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", NETWORK_ERROR);
  }
  if (!res.ok) {
    reportUnauthorized(res.status);
    throw await readError(res);
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** A random key per user action: a retried click creates the job once. */
export function idempotencyKey(): string {
  return crypto.randomUUID();
}

export const api = {
  config: () => request<Config>("GET", "/v1/config"),
  nonce: () => request<{ nonce: string; expires_at: string }>("GET", "/v1/auth/nonce"),
  signIn: (message: string, signature: string) =>
    request<SessionOut>("POST", "/v1/auth/siwe", { message, signature }),
  logout: () => request<void>("POST", "/v1/auth/logout"),
  me: () => request<Me>("GET", "/v1/me"),
  addRole: (role: Exclude<Role, "platform">) => request<Me>("POST", "/v1/me/roles", { role }),

  uploads: () => request<Upload[]>("GET", "/v1/uploads"),
  uploadUrl: (id: string) => request<SignedUrl>("GET", `/v1/uploads/${encodeURIComponent(id)}/url`),

  voices: () => request<Voice[]>("GET", "/v1/voices"),
  myVoices: () => request<Voice[]>("GET", "/v1/voices/mine"),
  voice: (id: string) => request<Voice>("GET", `/v1/voices/${encodeURIComponent(id)}`),
  registryNonce: () => request<{ nonce: string }>("GET", "/v1/voices/registry/nonce"),
  setTerms: (id: string, body: TermsIn) =>
    request<Terms>("POST", `/v1/voices/${encodeURIComponent(id)}/terms`, body),
  acceptTerms: (id: string, version: number) =>
    request<{ voice_model_id: string; terms_version: number; accepted_at: string }>(
      "POST",
      `/v1/voices/${encodeURIComponent(id)}/accept`,
      { terms_version: version },
    ),
  retire: (id: string) => request<Voice>("POST", `/v1/voices/${encodeURIComponent(id)}/retire`),

  createJob: (body: TrainJobIn | ConvertJobIn, key: string) =>
    request<Job>("POST", "/v1/jobs", body, { "Idempotency-Key": key }),
  jobs: () => request<Job[]>("GET", "/v1/jobs"),
  job: (id: string) => request<Job>("GET", `/v1/jobs/${encodeURIComponent(id)}`),
  cancelJob: (id: string) => request<Job>("POST", `/v1/jobs/${encodeURIComponent(id)}/cancel`),
  publishTrack: (jobId: string, title: string) =>
    request<Track>("POST", "/v1/tracks", { job_id: jobId, title }),
  myTracks: () => request<Track[]>("GET", "/v1/tracks/mine"),
  approvals: () => request<Track[]>("GET", "/v1/tracks/approvals"),
  approvalRequest: (id: string) =>
    request<ApprovalRequest>("GET", `/v1/tracks/${encodeURIComponent(id)}/approval`),
  approveTrack: (id: string, deadline: number, signature: string) =>
    request<Track>("POST", `/v1/tracks/${encodeURIComponent(id)}/approve`, { deadline, signature }),
  rejectTrack: (id: string) => request<Track>("POST", `/v1/tracks/${encodeURIComponent(id)}/reject`),

  payout: () => request<Payout>("GET", "/v1/payouts/me"),
  claim: () => request<{ tx_hash: string }>("POST", "/v1/payouts/me/claim"),
  epochEarnings: () => request<EpochEarning[]>("GET", "/v1/payouts/me/epochs"),
  trackEarnings: () => request<TrackEarning[]>("GET", "/v1/payouts/me/tracks"),
  epochs: () => request<Epoch[]>("GET", "/v1/epochs"),
  verifyEpoch: (n: number) => request<EpochVerify>("POST", `/v1/epochs/${n}/verify`),

  track: (id: string) => request<Track>("GET", `/v1/tracks/${encodeURIComponent(id)}`),
  publishedTracks: () => request<Track[]>("GET", "/v1/tracks"),
  trackAudio: (id: string) => request<SignedUrl>("GET", `/v1/tracks/${encodeURIComponent(id)}/audio`),

  myPlatform: () => request<Platform>("GET", "/v1/platforms/mine"),
  registerPlatform: (name: string) => request<Platform>("POST", "/v1/platforms", { name }),
  apiKeys: (platformId: string) =>
    request<ApiKey[]>("GET", `/v1/platforms/${encodeURIComponent(platformId)}/api-keys`),
  createApiKey: (platformId: string, name: string) =>
    request<ApiKeyCreated>("POST", `/v1/platforms/${encodeURIComponent(platformId)}/api-keys`, { name }),
  revokeApiKey: (platformId: string, keyId: string) =>
    request<ApiKey>(
      "DELETE",
      `/v1/platforms/${encodeURIComponent(platformId)}/api-keys/${encodeURIComponent(keyId)}`,
    ),
  usage: (platformId: string) =>
    request<TrackUsage[]>("GET", `/v1/platforms/${encodeURIComponent(platformId)}/usage`),
  channel: () => request<Channel>("GET", "/v1/channels/mine"),
  channelSetup: (amount: bigint) => request<ChannelSetup>("GET", `/v1/channels/setup?amount=${amount}`),
  withdrawalSteps: (amount: bigint) => request<TxStep[]>("GET", `/v1/channels/withdrawal?amount=${amount}`),
  linkChannel: (channelId: string) => request<Channel>("POST", "/v1/channels/link", { channel_id: channelId }),
  faucet: (amount: bigint) =>
    request<{ to: string; amount: string; tx_hash: string }>("POST", "/v1/channels/faucet", {
      amount: amount.toString(),
    }),
  txParams: (step: TxStep) =>
    request<TxParams>(
      "GET",
      `/v1/channels/transaction-params?to=${encodeURIComponent(step.to)}&data=${encodeURIComponent(step.data)}`,
    ),
  broadcast: (raw: string) => request<TxOutcome>("POST", "/v1/channels/transactions", { raw }),

  jobResult: (id: string) => request<JobResult>("GET", `/v1/jobs/${encodeURIComponent(id)}/result`),
};
