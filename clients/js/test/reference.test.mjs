// One full flow against the real reference server (Whisper tiny.en, SQLite, its own queue) started by this test:
// upload, transcribe with word timestamps, wait, download SRT, list, delete. The first job loads the model.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { createClient, VoxScriberError } from "../dist/index.js";
import { HELLO_WAV, startServer } from "./support.mjs";

let server;
let dataDir;
before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "voxscriber-js-reference-"));
  server = await startServer("serve", { extraArgs: ["--data-dir", dataDir, "--cpu-threads", "2"] });
});
after(async () => {
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test("upload, transcribe, wait, SRT, list, delete on the reference server", async () => {
  const client = createClient({ apiKey: server.apiKey, baseUrl: server.baseUrl });
  const statuses = new Set();
  const job = await client.transcribeFile(HELLO_WAV, {
    language: "en",
    timestamps: "word",
    maxIntervalMs: 2_000,
    onProgress: (polled) => statuses.add(polled.status),
  });
  assert.equal(job.status, "completed");
  assert.ok(statuses.has("completed"));
  // Whisper's words for espeak's "Hello and welcome to VoxScriber. This is a short test recording.": the name may
  // be spelt otherwise, the rest is plain English.
  assert.match(job.transcript.toLowerCase(), /hello and welcome to .*this is a short test recording/);
  assert.ok(job.segments.length >= 1);
  assert.ok(job.segments[0].words.length >= 3, "word timestamps were asked for");

  const srt = await client.transcript(job.job_id, "srt");
  assert.match(srt, /^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n\S/);
  const listed = [];
  for await (const each of client.listJobs({ status: "completed", limit: 1 })) listed.push(each.job_id);
  assert.deepEqual(listed, [job.job_id]);

  await client.deleteJob(job.job_id);
  await assert.rejects(client.getJob(job.job_id), (error) => error instanceof VoxScriberError && error.status === 404);
  await client.deleteFile(job.file_id);
  await assert.rejects(client.getFile(job.file_id), (error) => error.code === "not_found");
});
