/** Names for the contract's schemas, as the generated `schema.ts` describes them. */
import type { components, operations } from "./schema.js";

type Schemas = components["schemas"];

export type Job = Schemas["Job"];
export type JobList = Schemas["JobList"];
export type JobStatus = Schemas["JobStatus"];
export type JobError = Schemas["JobError"];
export type ErrorCode = Schemas["ErrorCode"];
export type Problem = Schemas["Problem"];
export type Transcript = Schemas["Transcript"];
export type TranscriptionRequest = Schemas["TranscriptionRequest"];
/** An uploaded file's metadata (the contract's `File`, renamed: `File` is the DOM's). */
export type UploadedFile = Schemas["File"];
export type WebhookEvent = Schemas["WebhookEvent"];
export type WebhookSecret = Schemas["WebhookSecret"];
/** The download formats of `GET /v1/transcripts/{job_id}`. */
export type TranscriptFormat = NonNullable<NonNullable<operations["getTranscript"]["parameters"]["query"]>["format"]>;
/** Everything `POST /v1/transcribe` takes besides the file. */
export type TranscriptionOptions = Omit<TranscriptionRequest, "file_id">;
