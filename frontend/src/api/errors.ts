// Every failure the app shows is an ApiError with a sentence for a person; raw bodies never
// reach the screen.

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: Record<string, unknown>;

  constructor(status: number, code: string, message: string, detail: Record<string, unknown> = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

const BY_STATUS: Record<number, string> = {
  400: "The request was not accepted.",
  401: "Your session has ended. Please sign in again.",
  403: "You are not allowed to do this.",
  404: "That was not found.",
  409: "That conflicts with the current state; reload and try again.",
  413: "The file is too large.",
  422: "Some of the values are not valid.",
  429: "Too many requests; wait a moment and try again.",
  502: "The server is unreachable right now. Try again shortly.",
  503: "The service is temporarily unavailable. Try again shortly.",
};

/** The error a response carries: the API's {"error": {code, message, detail}} or, failing
 * that, a sentence for the status. */
export function errorFromBody(status: number, body: unknown): ApiError {
  if (typeof body === "object" && body !== null && "error" in body) {
    const e = (body as { error: unknown }).error;
    if (typeof e === "object" && e !== null) {
      const { code, message, detail } = e as { code?: unknown; message?: unknown; detail?: unknown };
      if (typeof message === "string" && message) {
        return new ApiError(
          status,
          typeof code === "string" ? code : `http_${status}`,
          message,
          typeof detail === "object" && detail !== null ? (detail as Record<string, unknown>) : {},
        );
      }
    }
  }
  const fallback = BY_STATUS[status] ?? `Something went wrong (HTTP ${status}). Try again.`;
  return new ApiError(status, `http_${status}`, fallback);
}

export const NETWORK_ERROR = "Cannot reach the Timbre server. Check your connection and try again.";

/** A sentence for anything thrown (wallet rejections included). */
export function describe(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof DOMException && err.name === "AbortError") return "Cancelled.";
  if (err instanceof TypeError) return NETWORK_ERROR;
  if (typeof err === "object" && err !== null) {
    const e = err as { code?: unknown; shortMessage?: unknown; message?: unknown };
    // EIP-1193: 4001 = the person rejected the request in their wallet.
    if (e.code === 4001) return "The request was rejected in your wallet.";
    if (typeof e.shortMessage === "string") return e.shortMessage;
    if (typeof e.message === "string" && e.message) return e.message.split("\n")[0] ?? e.message;
  }
  return "Something went wrong. Try again.";
}
