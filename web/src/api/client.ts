// The one way the app talks to the server: /v1 only, with the session's bearer token, one refresh on 401.
import { ApiError } from "./errors";

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

const STORAGE_KEY = "vs.session";
type Listener = (tokens: Tokens | null, reason: "signed-in" | "refreshed" | "ended") => void;

let tokens: Tokens | null = readStored();
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<Listener>();

// Per tab (sessionStorage): a reload keeps the session, closing the tab ends it.
function readStored(): Tokens | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Tokens) : null;
  } catch {
    return null;
  }
}

function store(next: Tokens | null, reason: "signed-in" | "refreshed" | "ended"): void {
  tokens = next;
  if (next) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next));
  else sessionStorage.removeItem(STORAGE_KEY);
  listeners.forEach((l) => l(next, reason));
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function hasSession(): boolean {
  return tokens !== null;
}

async function toError(response: Response): Promise<ApiError> {
  const requestId = response.headers.get("X-Request-ID");
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string; details?: unknown } };
    const e = body.error ?? {};
    return new ApiError(response.status, e.code ?? "error", e.message ?? response.statusText, requestId, e.details);
  } catch {
    return new ApiError(response.status, "error", response.statusText, requestId);
  }
}

async function send(path: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "network error");
  }
}

async function refresh(): Promise<boolean> {
  const current = tokens;
  if (!current) return false;
  const response = await send("/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: current.refresh_token }),
  });
  if (!response.ok) {
    store(null, "ended");
    return false;
  }
  store((await response.json()) as Tokens, "refreshed");
  return true;
}

/** Refresh once even when several requests see a 401 at the same moment (a refresh token is single-use). */
function refreshOnce(): Promise<boolean> {
  refreshing ??= refresh().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  if (!path.startsWith("/v1/")) throw new Error(`the app talks only to /v1, not ${path}`);
  const call = () => {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (tokens) headers.Authorization = `Bearer ${tokens.access_token}`;
    if (init.body !== undefined) headers["Content-Type"] = "application/json";
    return send(path, {
      method: init.method ?? "GET",
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  };
  let response = await call();
  if (response.status === 401 && tokens && (await refreshOnce())) response = await call();
  if (response.status === 401 && tokens) store(null, "ended");
  if (!response.ok) throw await toError(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export async function signIn(email: string, password: string): Promise<void> {
  const response = await send("/v1/auth/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username: email, password }),
  });
  if (!response.ok) {
    const error = await toError(response);
    throw response.status === 401 ? new ApiError(401, "invalid_credentials", error.message) : error;
  }
  store((await response.json()) as Tokens, "signed-in");
}

export async function signOut(): Promise<void> {
  const current = tokens;
  store(null, "ended");
  if (current) {
    await send("/v1/auth/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: current.refresh_token }),
    }).catch(() => undefined);
  }
}
