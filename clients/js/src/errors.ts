/**
 * What this package throws on purpose:
 *
 * ```
 * Error
 *  ├── VoxScriberError             the API answered a problem (RFC 9457): status, code, title, detail, requestId
 *  │    └── RateLimitedError       429, with retryAfter (seconds) when the server said
 *  ├── JobFailedError              the job ended `failed`: its error code and the job
 *  ├── WaitTimeoutError           waitFor's timeoutMs passed; the job goes on: waitFor(error.jobId) resumes
 *  └── WebhookVerificationError    a webhook whose signature or timestamp does not verify
 * ```
 *
 * Network failures that outlast the retries are fetch's own errors (a `TypeError`), and an abort is the signal's
 * reason, both thrown as they are.
 */
import type { ErrorCode, Job, Problem } from "./types.js";

/** The API answered an error: the problem document, its fields, and the request id to quote to support. */
export class VoxScriberError extends Error {
  override name = "VoxScriberError";
  readonly status: number;
  readonly code: ErrorCode | undefined;
  readonly title: string | undefined;
  readonly detail: string | undefined;
  readonly requestId: string | undefined;
  /** The whole problem document (or, from a server that sent none, what it sent). */
  readonly problem: Partial<Problem> & Record<string, unknown>;

  constructor(status: number, problem: Partial<Problem> & Record<string, unknown>, requestId?: string) {
    const code = problem.code;
    super(`${status} ${code ?? "error"}: ${problem.detail ?? problem.title ?? "the server answered an error"}`);
    this.status = status;
    this.code = code;
    this.title = problem.title;
    this.detail = problem.detail;
    this.requestId = problem.request_id ?? requestId;
    this.problem = problem;
  }
}

/** 429: too many requests. `retryAfter` is the server's `Retry-After` in seconds, when it sent one. */
export class RateLimitedError extends VoxScriberError {
  override name = "RateLimitedError";
  readonly retryAfter: number | undefined;

  constructor(status: number, problem: Partial<Problem> & Record<string, unknown>, requestId?: string,
    retryAfter?: number) {
    super(status, problem, requestId);
    this.retryAfter = retryAfter;
  }
}

/** The job ended `failed`. `code` is the job's error code (`transcription_failed`, `processing_timeout`, ...). */
export class JobFailedError extends Error {
  override name = "JobFailedError";
  readonly jobId: string;
  readonly code: ErrorCode | undefined;
  readonly job: Job;

  constructor(job: Job) {
    super(`job ${job.job_id} failed: ${job.error?.code ?? "unknown"}: ${job.error?.message ?? "no message"}`);
    this.jobId = job.job_id;
    this.code = job.error?.code;
    this.job = job;
  }
}

/** waitFor gave up after its timeoutMs. The job still runs: `waitFor(error.jobId)` picks it up again. */
export class WaitTimeoutError extends Error {
  override name = "WaitTimeoutError";
  readonly jobId: string;
  /** The job as the last poll saw it. */
  readonly job: Job;

  constructor(job: Job, timeoutMs: number) {
    super(`job ${job.job_id} is still ${job.status} after ${timeoutMs} ms; resume with waitFor("${job.job_id}")`);
    this.jobId = job.job_id;
    this.job = job;
  }
}

/** A webhook request whose signature, id or timestamp does not verify against the secret. */
export class WebhookVerificationError extends Error {
  override name = "WebhookVerificationError";
}

/** The error a non-2xx answer stands for, from its body (parsed, when it was JSON) and headers. */
export function errorFromResponse(response: Response, body: unknown): VoxScriberError {
  const problem = isObject(body) ? (body as Partial<Problem> & Record<string, unknown>) : { detail: String(body) };
  const requestId = response.headers.get("X-Request-Id") ?? undefined;
  if (response.status === 429) {
    const retryAfter = parseRetryAfterSeconds(response.headers.get("Retry-After"));
    return new RateLimitedError(response.status, problem, requestId, retryAfter);
  }
  return new VoxScriberError(response.status, problem, requestId);
}

/** `Retry-After` as seconds from now: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfterSeconds(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
