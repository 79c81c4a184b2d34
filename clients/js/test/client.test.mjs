// The client's own rules, against a real mock: where the key and base URL come from, the backoff's bounds, and a
// wrong key's problem.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { backoffDelay, createClient, DEFAULT_BASE_URL, VoxScriberError } from "../dist/index.js";
import { startMock } from "./support.mjs";

let mock;
before(async () => {
  mock = await startMock();
});
after(() => mock?.stop());

describe("configuration", () => {
  test("VOXSCRIBER_API_KEY and VOXSCRIBER_BASE_URL are read when no option is given", async (context) => {
    const saved = { key: process.env.VOXSCRIBER_API_KEY, url: process.env.VOXSCRIBER_BASE_URL };
    context.after(() => {
      for (const [name, value] of [["VOXSCRIBER_API_KEY", saved.key], ["VOXSCRIBER_BASE_URL", saved.url]]) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    });
    process.env.VOXSCRIBER_API_KEY = mock.apiKey;
    process.env.VOXSCRIBER_BASE_URL = mock.baseUrl;
    const client = createClient();
    assert.equal(client.baseUrl, mock.baseUrl);
    assert.match(await client.getWebhookSecret(), /^whsec_/);
    delete process.env.VOXSCRIBER_BASE_URL;
    assert.equal(createClient().baseUrl, DEFAULT_BASE_URL);
    delete process.env.VOXSCRIBER_API_KEY;
    assert.throws(() => createClient(), /VOXSCRIBER_API_KEY/);
  });

  test("a wrong key is a 401 problem", async () => {
    const client = createClient({ apiKey: "vox_not_a_key", baseUrl: mock.baseUrl });
    await assert.rejects(client.getWebhookSecret(), (error) => {
      assert.ok(error instanceof VoxScriberError);
      assert.equal(error.status, 401);
      assert.equal(error.code, "unauthorized");
      return true;
    });
  });
});

describe("backoff", () => {
  test("full jitter: a draw between 0 and min(max, base * 2^attempt)", () => {
    assert.equal(backoffDelay(0, 1000, 30_000, () => 0.999999) < 1000, true);
    assert.equal(backoffDelay(3, 1000, 30_000, () => 0.5), 4000);
    assert.equal(backoffDelay(20, 1000, 30_000, () => 0.5), 15_000, "capped at the maximum");
    assert.equal(backoffDelay(5, 1000, 30_000, () => 0), 0);
  });
});
