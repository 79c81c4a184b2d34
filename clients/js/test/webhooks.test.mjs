// Scenario: webhook verification. The mock POSTs real signed events to a receiver this test runs on 127.0.0.1;
// verifyWebhook accepts them under the key's secret, and refuses a tampered body, a wrong secret, a missing header.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";

import { createClient, WebhookVerificationError } from "../dist/index.js";
import { verifyWebhook } from "../dist/webhooks.js";
import { HELLO_WAV, recordingFetch, startMock, withHeader } from "./support.mjs";

let mock;
let client;
let receiver;
const deliveries = [];
const waiters = [];

before(async () => {
  mock = await startMock();
  client = createClient({ apiKey: mock.apiKey, baseUrl: mock.baseUrl, fetch: mock.fetch });
  receiver = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      deliveries.push({ body: Buffer.concat(chunks), headers: request.headers });
      response.writeHead(204).end();
      waiters.splice(0).forEach((wake) => wake());
    });
  });
  receiver.listen(0, "127.0.0.1");
  await once(receiver, "listening");
});
after(async () => {
  receiver?.close();
  await mock?.stop();
});

/** The delivery for `jobId`, once the mock has sent it. */
async function deliveryFor(jobId) {
  for (;;) {
    const found = deliveries.find((delivery) => JSON.parse(delivery.body).data.job_id === jobId);
    if (found) return found;
    await new Promise((wake) => waiters.push(wake));
  }
}

async function finishedJobWithWebhook(transcriber = client) {
  const { file_id: fileId } = await client.upload(HELLO_WAV);
  const webhookUrl = `http://127.0.0.1:${receiver.address().port}/hooks/voxscriber`;
  const job = await transcriber.transcribe(fileId, { webhook_url: webhookUrl });
  await mock.advance(5);
  return { job, delivery: await deliveryFor(job.job_id) };
}

describe("webhook verification", () => {
  test("a real delivery verifies under the key's secret", async () => {
    const secret = await client.getWebhookSecret();
    assert.match(secret, /^whsec_/);
    const { job, delivery } = await finishedJobWithWebhook();
    const event = verifyWebhook(delivery.body, delivery.headers, secret);
    assert.equal(event.type, "transcription.completed");
    assert.equal(event.data.job_id, job.job_id);
    assert.equal(event.data.status, "completed");
    // The same event from the raw text, and with fetch's Headers (as a Request handler would have them).
    const headers = new Headers(Object.entries(delivery.headers));
    assert.deepEqual(verifyWebhook(delivery.body.toString("utf8"), headers, secret), event);
  });

  test("a failed job's event verifies too", async () => {
    const { fetch } = recordingFetch((request) =>
      request.method === "POST" ? withHeader(request, "Prefer", "scenario=job-fails") : undefined,
    );
    const failing = createClient({ apiKey: mock.apiKey, baseUrl: mock.baseUrl, fetch });
    const { delivery } = await finishedJobWithWebhook(failing);
    const event = verifyWebhook(delivery.body, delivery.headers, await client.getWebhookSecret());
    assert.equal(event.type, "transcription.failed");
    assert.equal(event.data.error.code, "transcription_failed");
  });

  test("a tampered body, another secret or a missing header is refused", async () => {
    const secret = await client.getWebhookSecret();
    const { delivery } = await finishedJobWithWebhook();
    const tampered = Buffer.from(delivery.body.toString("utf8").replace('"completed"', '"failed"'));
    assert.notDeepEqual(tampered, delivery.body);
    assert.throws(() => verifyWebhook(tampered, delivery.headers, secret), WebhookVerificationError);
    const otherSecret = `whsec_${Buffer.from("another key of thirty-two bytes!").toString("base64")}`;
    assert.throws(() => verifyWebhook(delivery.body, delivery.headers, otherSecret), WebhookVerificationError);
    const { "webhook-signature": _signature, ...unsigned } = delivery.headers;
    assert.throws(() => verifyWebhook(delivery.body, unsigned, secret), WebhookVerificationError);
  });
});
