/**
 * Retries where they are safe, and the waits between tries.
 *
 * A request is retried on 429, 503 and network errors only when repeating it cannot do anything twice: GET, HEAD,
 * DELETE (deleting twice ends the same way), and a POST that carries an `Idempotency-Key` (the server answers a
 * repeat with the first job). An upload is never retried: a second one would store a second file.
 */
import { parseRetryAfterSeconds } from "./errors.js";

/** How long the first retry waits at most, before the exponential growth (milliseconds). */
export const RETRY_BASE_MS = 500;
/** The most a retry waits when the server names no `Retry-After` (milliseconds). */
export const RETRY_MAX_MS = 30_000;

const RETRIED_STATUSES = new Set([429, 503]);
const REPEATABLE_METHODS = new Set(["GET", "HEAD", "DELETE"]);

/**
 * Exponential backoff with full jitter: a uniform draw in [0, min(maxMs, baseMs * 2^attempt)).
 * Full jitter spreads clients that failed together, so they do not come back together (attempt counts from 0).
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return random() * ceiling;
}

/** The server's `Retry-After`, in milliseconds; undefined when it sent none. */
export function retryAfterMs(response: Response): number | undefined {
  const seconds = parseRetryAfterSeconds(response.headers.get("Retry-After"));
  return seconds === undefined ? undefined : seconds * 1000;
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Whether repeating this request can do nothing twice. */
export function isRepeatable(request: Request): boolean {
  return REPEATABLE_METHODS.has(request.method) || request.headers.has("Idempotency-Key");
}

/**
 * A fetch that retries repeatable requests on 429, 503 and network errors, at most `maxRetries` times, waiting the
 * server's `Retry-After` when it names one and a backoff draw otherwise. The last answer (or error) is the caller's.
 */
export function createRetryingFetch(baseFetch: typeof fetch, maxRetries: number): (request: Request) => Promise<Response> {
  return async (request: Request): Promise<Response> => {
    if (maxRetries <= 0 || !isRepeatable(request)) return baseFetch(request);
    for (let attempt = 0; ; attempt++) {
      // A body can be read once: each try sends a copy, the original stays for the next.
      const copy = request.clone();
      let response: Response;
      try {
        response = await baseFetch(copy);
      } catch (error) {
        if (attempt >= maxRetries || request.signal.aborted) throw error;
        await sleep(backoffDelay(attempt, RETRY_BASE_MS, RETRY_MAX_MS), request.signal);
        continue;
      }
      if (attempt >= maxRetries || !RETRIED_STATUSES.has(response.status)) return response;
      const delay = retryAfterMs(response) ?? backoffDelay(attempt, RETRY_BASE_MS, RETRY_MAX_MS);
      await response.body?.cancel();
      await sleep(delay, request.signal);
    }
  };
}
