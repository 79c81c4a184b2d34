// Scenario: 429 then success. The mock answers `Prefer: code=429` (with Retry-After: 1) for the one request that
// carries it; a fetch wrapper adds it to the first attempt only, and records every attempt.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { createClient, RateLimitedError, VoxScriberError } from "../dist/index.js";
import { HELLO_WAV, recordingFetch, startMock, withHeader } from "./support.mjs";

let mock;
let plainClient;
let fileId;
before(async () => {
  mock = await startMock();
  plainClient = createClient({ apiKey: mock.apiKey, baseUrl: mock.baseUrl });
  fileId = (await plainClient.upload(HELLO_WAV)).file_id;
});
after(() => mock?.stop());

/** A client whose first request to `path` is answered 429 by the mock, and the log of what it sent. */
function clientRateLimitedOnce(path, options = {}) {
  let limited = false;
  const { fetch, requests } = recordingFetch((request) => {
    if (limited || new URL(request.url).pathname !== path) return undefined;
    limited = true;
    return withHeader(request, "Prefer", "code=429");
  });
  return { client: createClient({ apiKey: mock.apiKey, baseUrl: mock.baseUrl, fetch, ...options }), requests };
}

describe("429 then success", () => {
  test("transcribe is retried after Retry-After with the same Idempotency-Key: one job", async () => {
    const { client, requests } = clientRateLimitedOnce("/v1/transcribe");
    const started = Date.now();
    const job = await client.transcribe(fileId);
    const elapsed = Date.now() - started;
    const sent = requests.filter((request) => request.path === "/v1/transcribe");
    assert.deepEqual(sent.map((request) => request.status), [429, 202]);
    const keys = sent.map((request) => request.headers.get("Idempotency-Key"));
    assert.match(keys[0], /^[0-9a-f-]{36}$/);
    assert.equal(keys[1], keys[0], "the retry reuses the key");
    // A lower bound only (Node's timers may fire a millisecond early): the retry did not come sooner than asked.
    assert.ok(elapsed >= 990, `the retry waited the mock's Retry-After: 1 (waited ${elapsed} ms)`);
    const jobs = [];
    for await (const listed of plainClient.listJobs({ limit: 100 })) jobs.push(listed.job_id);
    assert.equal(jobs.filter((id) => id === job.job_id).length, 1);
  });

  test("a caller's own Idempotency-Key is sent and kept across the retry", async () => {
    const { client, requests } = clientRateLimitedOnce("/v1/transcribe");
    const job = await client.transcribe(fileId, { idempotencyKey: "order-4711" });
    const keys = requests.map((request) => request.headers.get("Idempotency-Key"));
    assert.deepEqual(keys, ["order-4711", "order-4711"]);
    const again = await plainClient.transcribe(fileId, { idempotencyKey: "order-4711" });
    assert.equal(again.job_id, job.job_id, "the server knows the key: the same job");
  });

  test("a status poll is retried", async () => {
    const job = await plainClient.transcribe(fileId);
    const { client, requests } = clientRateLimitedOnce(`/v1/status/${job.job_id}`);
    assert.equal((await client.getJob(job.job_id)).job_id, job.job_id);
    assert.deepEqual(requests.map((request) => request.status), [429, 200]);
  });

  test("an upload is not retried: a second one would store a second file", async () => {
    const { client, requests } = clientRateLimitedOnce("/v1/upload");
    const error = await client.upload(HELLO_WAV).then(() => assert.fail("the 429 is thrown"), (caught) => caught);
    assert.ok(error instanceof RateLimitedError);
    assert.ok(error instanceof VoxScriberError);
    assert.equal(error.status, 429);
    assert.equal(error.code, "rate_limited");
    assert.equal(error.retryAfter, 1);
    assert.match(error.requestId, /\S/);
    assert.equal(error.problem.status, 429);
    assert.equal(requests.length, 1);
  });

  test("with maxRetries 0 the first 429 is thrown", async () => {
    const { client, requests } = clientRateLimitedOnce("/v1/transcribe", { maxRetries: 0 });
    await assert.rejects(client.transcribe(fileId), (error) => error instanceof RateLimitedError && error.retryAfter === 1);
    assert.equal(requests.length, 1);
  });

  test("retries end after maxRetries: the last 429 is thrown", async () => {
    const { fetch, requests } = recordingFetch((request) => withHeader(request, "Prefer", "code=429"));
    const client = createClient({ apiKey: mock.apiKey, baseUrl: mock.baseUrl, fetch, maxRetries: 1 });
    await assert.rejects(client.getWebhookSecret(), RateLimitedError);
    assert.deepEqual(requests.map((request) => request.status), [429, 429]);
  });

  test("a network error is retried for a safe request", async () => {
    let failures = 1;
    const { fetch, requests } = recordingFetch(undefined, (request) => {
      if (failures-- > 0) return Promise.reject(new TypeError("fetch failed"));
      return globalThis.fetch(request);
    });
    const client = createClient({ apiKey: mock.apiKey, baseUrl: mock.baseUrl, fetch });
    assert.match(await client.getWebhookSecret(), /^whsec_/);
    assert.equal(requests.length, 2);
  });
});
