// Scenarios: a job that fails; a slow job whose wait times out and is resumed; pagination over several pages;
// deletion. The mock's clock is manual: jobs move only when a test advances it.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";

import { createClient, JobFailedError, VoxScriberError, WaitTimeoutError } from "../dist/index.js";
import { HELLO_WAV, recordingFetch, startMock, withHeader, withoutRetryAfter } from "./support.mjs";

let mock;
let client;
let fileId;
before(async () => {
  mock = await startMock();
});
beforeEach(async () => {
  await mock.reset();
  client = createClient({ apiKey: mock.apiKey, baseUrl: mock.baseUrl, fetch: mock.fetch });
  fileId = (await client.upload(HELLO_WAV)).file_id;
});
after(() => mock?.stop());

/** A client whose requests to POST /v1/transcribe name a mock scenario. */
function clientWithScenario(scenario) {
  const { fetch } = recordingFetch(
    (request) => (request.method === "POST" ? withHeader(request, "Prefer", `scenario=${scenario}`) : undefined),
    mock.fetch,
  );
  return createClient({ apiKey: mock.apiKey, baseUrl: mock.baseUrl, fetch });
}

describe("a job that fails", () => {
  test("waitFor throws JobFailedError with the job's error code", async () => {
    const job = await clientWithScenario("job-fails").transcribe(fileId);
    const error = await client
      .waitFor(job.job_id, { onProgress: (polled) => polled.status !== "failed" && void mock.advance(5) })
      .then(() => assert.fail("a failed job is thrown"), (caught) => caught);
    assert.ok(error instanceof JobFailedError, String(error));
    assert.equal(error.code, "transcription_failed");
    assert.equal(error.jobId, job.job_id);
    assert.equal(error.job.status, "failed");
    assert.equal(error.job.error.code, "transcription_failed");
  });

  test("its transcript is a 409 problem", async () => {
    const job = await clientWithScenario("job-fails").transcribe(fileId);
    await mock.advance(5);
    await assert.rejects(client.transcript(job.job_id, "text"), (error) => {
      assert.ok(error instanceof VoxScriberError);
      assert.equal(error.status, 409);
      assert.equal(error.code, "job_not_completed");
      return true;
    });
  });
});

describe("a slow job, waited for with a timeout, then resumed", () => {
  test("WaitTimeoutError carries the job id; waitFor(jobId) completes the same job", async () => {
    const job = await clientWithScenario("slow").transcribe(fileId);
    const polled = [];
    const timeout = await client
      .waitFor(job.job_id, { timeoutMs: 200, onProgress: (seen) => polled.push(seen.status) })
      .then(() => assert.fail("the wait times out"), (caught) => caught);
    assert.ok(timeout instanceof WaitTimeoutError, String(timeout));
    assert.equal(timeout.jobId, job.job_id);
    assert.equal(timeout.job.job_id, job.job_id);
    assert.notEqual(timeout.job.status, "completed");
    assert.ok(polled.length >= 2, "it polled at the deadline too, not only at the start");
    assert.match(timeout.message, new RegExp(job.job_id));

    await mock.advance(3);
    assert.equal((await client.getJob(job.job_id)).status, "processing", "slow: 10 s of mock time, not 1");
    await mock.advance(10);
    const done = await client.waitFor(timeout.jobId);
    assert.equal(done.job_id, job.job_id);
    assert.equal(done.status, "completed");
  });

  test("without timeoutMs, waitFor keeps polling a stuck job (no hidden deadline) until the caller aborts", async () => {
    const job = await clientWithScenario("stuck").transcribe(fileId);
    // Without the server's Retry-After, waitFor backs off on its own, each pause at most maxIntervalMs.
    const impatient = createClient({ apiKey: mock.apiKey, baseUrl: mock.baseUrl, fetch: withoutRetryAfter(mock.fetch) });
    const controller = new AbortController();
    const statuses = [];
    const waiting = impatient.waitFor(job.job_id, {
      maxIntervalMs: 20,
      signal: controller.signal,
      onProgress: (polled) => {
        statuses.push(polled.status);
        // A day of mock time, in steps: the job stays processing, and waitFor keeps polling.
        if (statuses.length < 24) void mock.advance(3600);
        else controller.abort(new Error("the caller gave up"));
      },
    });
    await assert.rejects(waiting, /the caller gave up/);
    assert.equal(statuses.length, 24);
    assert.equal(statuses.at(-1), "processing");
  });
});

describe("pagination", () => {
  test("listJobs follows next_cursor over 3 pages of 2", async () => {
    const started = [];
    for (let index = 0; index < 5; index++) started.push((await client.transcribe(fileId)).job_id);
    const { fetch, requests } = recordingFetch(undefined, mock.fetch);
    const paging = createClient({ apiKey: mock.apiKey, baseUrl: mock.baseUrl, fetch });
    const listed = [];
    for await (const job of paging.listJobs({ limit: 2 })) listed.push(job.job_id);
    assert.deepEqual(listed, [...started].reverse(), "every job once, newest first");
    assert.equal(requests.filter((request) => request.path === "/v1/jobs").length, 3);
  });

  test("the status filter goes to every page", async () => {
    const failing = clientWithScenario("job-fails");
    const failed = [(await failing.transcribe(fileId)).job_id, (await failing.transcribe(fileId)).job_id];
    for (let index = 0; index < 3; index++) await client.transcribe(fileId);
    await mock.advance(0.6);
    const listed = [];
    for await (const job of client.listJobs({ status: "failed", limit: 1 })) listed.push(job.job_id);
    assert.deepEqual(listed, [...failed].reverse());
  });
});

describe("deletion", () => {
  test("a deleted job is a 404 problem with its code and request id", async () => {
    const job = await client.transcribe(fileId);
    await client.deleteJob(job.job_id);
    const error = await client.getJob(job.job_id).then(() => assert.fail("gone"), (caught) => caught);
    assert.ok(error instanceof VoxScriberError);
    assert.equal(error.status, 404);
    assert.equal(error.code, "not_found");
    assert.match(error.requestId, /\S/);
    assert.equal(error.problem.request_id, error.requestId);
    assert.ok(error.title);
    await assert.rejects(client.deleteJob(job.job_id), (again) => again.status === 404);
    for await (const listed of client.listJobs()) assert.notEqual(listed.job_id, job.job_id);
  });

  test("a deleted file is a 404 problem", async () => {
    await client.deleteFile(fileId);
    await assert.rejects(client.getFile(fileId), (error) => error.code === "not_found" && error.status === 404);
  });
});
