/**
 * The VoxScriber client: the contract's operations through openapi-fetch (typed by the generated `schema.ts`), and
 * what every integrator would otherwise write again: uploads from anything, an idempotent transcribe, a wait that
 * honours `Retry-After`, pagination, retries where they are safe, and errors that carry the problem.
 */
import createFetchClient, { type Client as FetchClient } from "openapi-fetch";

import { errorFromResponse, JobFailedError, WaitTimeoutError } from "./errors.js";
import { backoffDelay, createRetryingFetch, retryAfterMs, sleep } from "./retry.js";
import type { paths } from "./schema.js";
import type {
  Job,
  JobStatus,
  Transcript,
  TranscriptFormat,
  TranscriptionOptions,
  UploadedFile,
} from "./types.js";
import { prepareUpload, type UploadBody, type UploadProgress, type UploadSource } from "./upload.js";

/** Where the API is when neither `baseUrl` nor `VOXSCRIBER_BASE_URL` says. */
export const DEFAULT_BASE_URL = "https://api.voxscriber.com";
/** Retries of a safe request on 429, 503 or a network error, unless `maxRetries` says otherwise. */
export const DEFAULT_MAX_RETRIES = 3;
/** waitFor's longest pause between two polls when the server names no `Retry-After`, unless told otherwise. */
export const DEFAULT_MAX_INTERVAL_MS = 30_000;
/** waitFor's first pause when the server names no `Retry-After`; it doubles from there. */
export const FIRST_INTERVAL_MS = 1_000;

export interface ClientOptions {
  /** The API key; in Node, `VOXSCRIBER_API_KEY` when left out. */
  apiKey?: string;
  /** The server's root (`https://api.voxscriber.com`); in Node, `VOXSCRIBER_BASE_URL` when left out. */
  baseUrl?: string;
  /** The fetch to send requests with (a proxy, a test double, an instrumented one); `globalThis.fetch` by default. */
  fetch?: typeof fetch;
  /** How often a safe request is retried on 429, 503 or a network error (3; 0 turns retries off). */
  maxRetries?: number;
}

export interface UploadOptions {
  /** The name the server keeps (and sees the media type by); by default the path's, the File's, or "upload". */
  filename?: string;
  /** Called as bytes leave (in Node as they stream; in browsers once, when the upload is done). */
  onProgress?: UploadProgress;
  signal?: AbortSignal;
}

export interface TranscribeOptions extends TranscriptionOptions {
  /**
   * Sent as `Idempotency-Key`; a fresh UUID by default. The same key gives the same job back, so a retried
   * transcribe (this client's own retries included) never starts a second, billed job.
   */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface WaitOptions {
  /** Give up (`WaitTimeoutError`, the job goes on) after this long; undefined waits as long as the job runs. */
  timeoutMs?: number;
  /** The longest pause between polls when the server names no `Retry-After` (30 s). */
  maxIntervalMs?: number;
  /** Called with the job after every poll. */
  onProgress?: (job: Job) => void;
  signal?: AbortSignal;
}

export interface TranscribeFileOptions extends TranscriptionOptions, WaitOptions {
  filename?: string;
  onUploadProgress?: UploadProgress;
  idempotencyKey?: string;
}

export interface ListJobsOptions {
  /** Only jobs in this status. */
  status?: JobStatus;
  /** Jobs per page (1-100); the iterator follows every page whatever the size. */
  limit?: number;
  signal?: AbortSignal;
}

type ApiResult<T> = { data?: T; error?: unknown; response: Response };

/** A VoxScriber client. */
export class VoxScriberClient {
  /** The typed openapi-fetch client underneath, for anything the convenience layer does not cover. */
  readonly api: FetchClient<paths>;
  readonly baseUrl: string;

  constructor(options: ClientOptions = {}) {
    const apiKey = options.apiKey ?? environment("VOXSCRIBER_API_KEY");
    if (!apiKey) throw new TypeError("no API key: pass apiKey or set VOXSCRIBER_API_KEY");
    this.baseUrl = options.baseUrl ?? environment("VOXSCRIBER_BASE_URL") ?? DEFAULT_BASE_URL;
    const baseFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.api = createFetchClient<paths>({
      baseUrl: this.baseUrl,
      fetch: createRetryingFetch(baseFetch, options.maxRetries ?? DEFAULT_MAX_RETRIES),
      headers: { Authorization: `Bearer ${apiKey}` },
    });
  }

  /** Upload media: a path, an http(s) URL (fetched by the server), bytes, a Blob or File, or a stream. */
  async upload(source: UploadSource, options: UploadOptions = {}): Promise<UploadedFile> {
    const body = await prepareUpload(source, options.filename, options.onProgress);
    // The generated type of a multipart body says `file: string` (OpenAPI's `format: binary`); what fetch sends is
    // a FormData or a stream, so the request options are built untyped and the answer typed again below.
    const result = await this.api.POST("/v1/upload", { ...uploadInit(body), signal: options.signal } as never);
    const file = unwrap(result as ApiResult<UploadedFile>);
    if (body.kind === "form") options.onProgress?.(body.totalBytes, body.totalBytes);
    return file;
  }

  /** Start a transcription job on an uploaded file; the queued job. */
  async transcribe(fileId: string, options: TranscribeOptions = {}): Promise<Job> {
    const { idempotencyKey = crypto.randomUUID(), signal, ...transcription } = options;
    const result = await this.api.POST("/v1/transcribe", {
      params: { header: { "Idempotency-Key": idempotencyKey } },
      body: { file_id: fileId, ...transcription },
      signal,
    });
    return unwrap(result);
  }

  /** The job as it is now. */
  async getJob(jobId: string, signal?: AbortSignal): Promise<Job> {
    return (await this.pollJob(jobId, signal)).job;
  }

  /**
   * Poll until the job ends: the completed job, or `JobFailedError` (with the job's error code). Between polls it
   * waits the server's `Retry-After`, else an exponential backoff with full jitter up to `maxIntervalMs`. Without
   * `timeoutMs` it waits as long as the job runs; with it, `WaitTimeoutError` carries the job id to resume with.
   */
  async waitFor(jobId: string, options: WaitOptions = {}): Promise<Job> {
    const { timeoutMs, maxIntervalMs = DEFAULT_MAX_INTERVAL_MS, onProgress, signal } = options;
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const { job, retryAfter } = await this.pollJob(jobId, signal);
      onProgress?.(job);
      if (job.status === "completed") return job;
      if (job.status === "failed") throw new JobFailedError(job);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new WaitTimeoutError(job, timeoutMs ?? 0);
      const pause = retryAfter ?? backoffDelay(attempt, FIRST_INTERVAL_MS, maxIntervalMs);
      await sleep(Math.min(pause, remaining), signal);
    }
  }

  /** Upload, transcribe and wait, in one call: the completed job (its `transcript`, `segments`, `language`). */
  async transcribeFile(source: UploadSource, options: TranscribeFileOptions = {}): Promise<Job> {
    const { filename, onUploadProgress, timeoutMs, maxIntervalMs, onProgress, signal, ...transcription } = options;
    const file = await this.upload(source, { filename, onProgress: onUploadProgress, signal });
    const job = await this.transcribe(file.file_id, { ...transcription, signal });
    return this.waitFor(job.job_id, { timeoutMs, maxIntervalMs, onProgress, signal });
  }

  /** A completed job's transcript: the JSON document, or the text, SRT or WebVTT download as a string. */
  transcript(jobId: string, format?: "json", signal?: AbortSignal): Promise<Transcript>;
  transcript(jobId: string, format: Exclude<TranscriptFormat, "json">, signal?: AbortSignal): Promise<string>;
  async transcript(jobId: string, format: TranscriptFormat = "json", signal?: AbortSignal): Promise<Transcript | string> {
    const result = await this.api.GET("/v1/transcripts/{job_id}", {
      params: { path: { job_id: jobId }, query: { format } },
      parseAs: format === "json" ? "json" : "text",
      signal,
    });
    return unwrap(result as ApiResult<Transcript | string>);
  }

  /** Every job of this key, newest first, following `next_cursor` page after page. */
  async *listJobs(options: ListJobsOptions = {}): AsyncGenerator<Job, void, undefined> {
    const { status, limit, signal } = options;
    let cursor: string | undefined;
    do {
      const result = await this.api.GET("/v1/jobs", { params: { query: { status, limit, cursor } }, signal });
      const page = unwrap(result);
      yield* page.data;
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** Delete a job and its transcript (a running job is cancelled first). The uploaded file stays. */
  async deleteJob(jobId: string, signal?: AbortSignal): Promise<void> {
    unwrap(await this.api.DELETE("/v1/jobs/{job_id}", { params: { path: { job_id: jobId } }, signal }));
  }

  /** An uploaded file's metadata. */
  async getFile(fileId: string, signal?: AbortSignal): Promise<UploadedFile> {
    return unwrap(await this.api.GET("/v1/files/{file_id}", { params: { path: { file_id: fileId } }, signal }));
  }

  /** Delete an uploaded file. */
  async deleteFile(fileId: string, signal?: AbortSignal): Promise<void> {
    unwrap(await this.api.DELETE("/v1/files/{file_id}", { params: { path: { file_id: fileId } }, signal }));
  }

  /** This key's webhook signing secret (`whsec_…`), for `verifyWebhook`. */
  async getWebhookSecret(signal?: AbortSignal): Promise<string> {
    return unwrap(await this.api.GET("/v1/webhooks/secret", { signal })).secret;
  }

  private async pollJob(jobId: string, signal?: AbortSignal): Promise<{ job: Job; retryAfter: number | undefined }> {
    const result = await this.api.GET("/v1/status/{job_id}", { params: { path: { job_id: jobId } }, signal });
    return { job: unwrap(result), retryAfter: retryAfterMs(result.response) };
  }
}

/** A client; see `ClientOptions` for where the key and base URL come from. */
export function createClient(options: ClientOptions = {}): VoxScriberClient {
  return new VoxScriberClient(options);
}

/** The data of a 2xx answer; the problem of any other, thrown as a `VoxScriberError`. */
function unwrap<T>(result: ApiResult<T>): T {
  if (!result.response.ok) throw errorFromResponse(result.response, result.error);
  return result.data as T;
}

/** openapi-fetch's request options for an upload body: JSON, FormData, or a streamed multipart body. */
function uploadInit(body: UploadBody): Record<string, unknown> {
  const asIs = (value: unknown): unknown => value;
  if (body.kind === "url") return { body: body.json };
  if (body.kind === "form") return { body: body.form, bodySerializer: asIs };
  // `duplex: "half"` is how fetch is told that a streamed body is sent before the answer is read.
  return { body: body.stream, bodySerializer: asIs, headers: { "Content-Type": body.contentType }, duplex: "half" };
}

function environment(name: string): string | undefined {
  if (typeof process === "undefined" || process.env === undefined) return undefined;
  return process.env[name] || undefined;
}
