// Scenario: success. Upload hello.wav from a path, a Buffer, a Blob and a stream; transcribe; wait; download the
// transcript in every format. The mock's engine gives the fixture's known text for its bytes.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";

import { createClient } from "../dist/index.js";
import { HELLO_WAV, REPO_ROOT, startMock } from "./support.mjs";

const manifest = JSON.parse(await readFile(`${REPO_ROOT}mockserver/fixtures/manifest.json`, "utf8"));
const HELLO_TEXT = manifest.find((entry) => entry.file === "hello.wav").text;
const HELLO_BYTES = await readFile(HELLO_WAV);

let mock;
let client;
before(async () => {
  mock = await startMock();
  client = createClient({ apiKey: mock.apiKey, baseUrl: mock.baseUrl, fetch: mock.fetch });
});
after(() => mock?.stop());

/** Transcribe an uploaded file and wait: the clock is moved past the processing time while waitFor polls. */
async function transcribeAndWait(fileId) {
  const job = await client.transcribe(fileId, { timestamps: "word", language: "auto" });
  assert.equal(job.status, "queued");
  const seen = [];
  const done = await client.waitFor(job.job_id, {
    onProgress: (polled) => {
      seen.push(polled.status);
      if (seen.length === 1) void mock.advance(5);
    },
  });
  assert.ok(seen.length >= 2, `waitFor polled again after a non-final status: ${seen}`);
  assert.equal(seen.at(-1), "completed");
  return done;
}

describe("upload, transcribe, wait, download", () => {
  const sources = {
    path: () => [HELLO_WAV, {}],
    "file: URL": () => [new URL(`file://${HELLO_WAV}`), {}],
    Buffer: () => [HELLO_BYTES, { filename: "hello.wav" }],
    Uint8Array: () => [new Uint8Array(HELLO_BYTES), { filename: "hello.wav" }],
    Blob: () => [new Blob([HELLO_BYTES], { type: "audio/wav" }), { filename: "hello.wav" }],
    File: () => [new File([HELLO_BYTES], "hello.wav", { type: "audio/wav" }), {}],
    "web ReadableStream": () => [Readable.toWeb(Readable.from([HELLO_BYTES])), { filename: "hello.wav" }],
  };
  for (const [kind, make] of Object.entries(sources)) {
    test(`from a ${kind}`, async () => {
      const [source, options] = make();
      const file = await client.upload(source, options);
      assert.equal(file.filename, "hello.wav");
      assert.equal(file.size_bytes, HELLO_BYTES.length);
      assert.equal(file.content_type, "audio/wav");
      const job = await transcribeAndWait(file.file_id);
      assert.equal(job.transcript, HELLO_TEXT);
      assert.equal(job.language, "en");
      assert.deepEqual(await client.getFile(file.file_id), file);
    });
  }

  test("upload progress counts every byte in Node", async () => {
    const reports = [];
    await client.upload(HELLO_WAV, { onProgress: (sent, total) => reports.push([sent, total]) });
    assert.deepEqual(reports[0], [0, HELLO_BYTES.length]);
    assert.deepEqual(reports.at(-1), [HELLO_BYTES.length, HELLO_BYTES.length]);
    const sent = reports.map(([bytes]) => bytes);
    assert.deepEqual(sent, [...sent].sort((a, b) => a - b), "progress never goes back");
  });

  test("the transcript in json, text, srt and vtt", async () => {
    const file = await client.upload(HELLO_WAV);
    const job = await transcribeAndWait(file.file_id);
    const json = await client.transcript(job.job_id, "json");
    assert.equal(json.job_id, job.job_id);
    assert.equal(json.text, HELLO_TEXT);
    assert.deepEqual(json.segments, job.segments);
    assert.equal((await client.transcript(job.job_id)).text, HELLO_TEXT, "json is the default");
    const text = await client.transcript(job.job_id, "text");
    assert.equal(text.trim(), HELLO_TEXT);
    const srt = await client.transcript(job.job_id, "srt");
    assert.match(srt, /^1\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\nHello and welcome to VoxScriber\.\n/);
    const vtt = await client.transcript(job.job_id, "vtt");
    assert.match(vtt, /^WEBVTT\n\n00:00:\d\d\.\d{3} --> 00:00:\d\d\.\d{3}\nHello and welcome to VoxScriber\.\n/);
  });

  test("transcribeFile does it in one call", async () => {
    const promise = client.transcribeFile(HELLO_BYTES, {
      filename: "hello.wav",
      timestamps: "segment",
      onProgress: (job) => {
        if (job.status !== "completed") void mock.advance(5);
      },
    });
    const job = await promise;
    assert.equal(job.status, "completed");
    assert.equal(job.transcript, HELLO_TEXT);
    assert.equal(job.options.timestamps, "segment");
  });

  test("an upload by URL is fetched by the server", async () => {
    const file = await client.upload("https://media.example.com/talk.mp3", { filename: "talk.mp3" });
    assert.equal(file.filename, "talk.mp3");
    assert.ok(file.duration_seconds > 0);
  });
});
