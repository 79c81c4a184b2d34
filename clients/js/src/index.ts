/** `@voxscriber/client`: a typed client for the VoxScriber speech-to-text API. */
export {
  createClient,
  DEFAULT_BASE_URL,
  DEFAULT_MAX_INTERVAL_MS,
  DEFAULT_MAX_RETRIES,
  VoxScriberClient,
  type ClientOptions,
  type ListJobsOptions,
  type TranscribeFileOptions,
  type TranscribeOptions,
  type UploadOptions,
  type WaitOptions,
} from "./client.js";
export {
  JobFailedError,
  RateLimitedError,
  VoxScriberError,
  WaitTimeoutError,
  WebhookVerificationError,
} from "./errors.js";
export { backoffDelay } from "./retry.js";
export type { components, operations, paths } from "./schema.js";
export type {
  ErrorCode,
  Job,
  JobError,
  JobList,
  JobStatus,
  Problem,
  Transcript,
  TranscriptFormat,
  TranscriptionOptions,
  TranscriptionRequest,
  UploadedFile,
  WebhookEvent,
  WebhookSecret,
} from "./types.js";
export type { UploadProgress, UploadSource } from "./upload.js";
// verifyWebhook is the "./webhooks" subpath's (`@voxscriber/client/webhooks`): webhooks reach servers, not pages, and
// its dependency (standardwebhooks, CommonJS only) would keep this entry from loading unbundled in a browser.
