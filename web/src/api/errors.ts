import { t } from "../strings";

/** An error from /v1 (the envelope {"error": {"code", "message", "details"}, "request_id"}) or the network. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null = null,
    readonly details: unknown = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

function detailText(details: unknown, fallback: string): string {
  if (Array.isArray(details) && details.length > 0) {
    return details
      .map((d) => {
        const item = d as { loc?: unknown[]; msg?: string };
        const field = (item.loc ?? []).filter((p) => p !== "body").join(" → ");
        return field ? `${field}: ${item.msg ?? ""}` : (item.msg ?? "");
      })
      .join("; ");
  }
  return fallback;
}

/** Words a person understands for any error the app can meet; never raw JSON. */
export function describeError(error: unknown): string {
  if (!(error instanceof ApiError)) return t.errors.network;
  switch (error.status) {
    case 0:
      return t.errors.network;
    case 401:
      return error.code === "invalid_credentials" || /wrong email/i.test(error.message)
        ? t.errors.wrongPassword
        : t.errors.expired;
    case 403:
      return t.errors.forbidden;
    case 404:
      return t.errors.notFound;
    case 409:
      return t.errors.conflict(error.message);
    case 400:
    case 422:
      return t.errors.invalid(detailText(error.details, error.message));
    case 429:
      return t.errors.rateLimited;
    case 503:
      return error.code === "model_unavailable" ? t.errors.modelUnavailable : t.errors.server(error.requestId);
    default:
      return t.errors.server(error.requestId);
  }
}
