// Real servers for the tests: a mock (or the reference server) started as a child process on a free port of
// 127.0.0.1, ready once GET /v1/health answers, stopped when the test file ends.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const HELLO_WAV = `${REPO_ROOT}mockserver/fixtures/hello.wav`;
const VOXCONTRACT = process.env.VOXCONTRACT_BIN ?? `${REPO_ROOT}.venv/bin/voxcontract`;
const START_TIMEOUT_MS = 90_000;

/** A port nobody listens on right now. */
export async function freePort() {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

/** Start `voxcontract <command> --port P --api-key K ...extraArgs` and wait until it serves. */
export async function startServer(command, { apiKey = "vox_js_sdk_key", extraArgs = [], startTimeoutMs = START_TIMEOUT_MS } = {}) {
  const port = await freePort();
  const args = [command, "--host", "127.0.0.1", "--port", String(port), "--api-key", apiKey, ...extraArgs];
  const child = spawn(VOXCONTRACT, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const baseUrl = `http://127.0.0.1:${port}`;
  const server = {
    baseUrl,
    apiKey,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
  await waitUntilHealthy(baseUrl, child, () => output, startTimeoutMs);
  return server;
}

/** A mock with a manual clock by default: jobs move only when the test advances it. */
export async function startMock({ clock = "manual", extraArgs = [] } = {}) {
  const mock = await startServer("mock", { extraArgs: ["--clock", clock, ...extraArgs] });
  let lastAdvance = Promise.resolve();
  return {
    ...mock,
    /**
     * Move the mock's clock; jobs that end by then complete (and send their webhooks). Requests sent through
     * `mock.fetch` wait for the move to be done, so a test can call this from a callback without a race.
     */
    advance(seconds) {
      lastAdvance = advanceClock(mock.baseUrl, seconds);
      return lastAdvance;
    },
    /** fetch, once any clock move asked for before has been made. */
    async fetch(input, init) {
      await lastAdvance;
      return fetch(input, init);
    },
    async reset() {
      const response = await fetch(`${mock.baseUrl}/__mock/reset`, { method: "POST" });
      if (!response.ok) throw new Error(`reset answered ${response.status}`);
    },
    async journal() {
      return (await (await fetch(`${mock.baseUrl}/__mock/journal`)).json()).requests;
    },
  };
}

async function advanceClock(baseUrl, seconds) {
  const response = await fetch(`${baseUrl}/__mock/clock/advance`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ seconds }),
  });
  if (!response.ok) throw new Error(`clock advance answered ${response.status}: ${await response.text()}`);
}

async function waitUntilHealthy(baseUrl, child, output, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}:\n${output()}`);
    try {
      if ((await fetch(`${baseUrl}/v1/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`the server did not answer /v1/health within ${timeoutMs} ms:\n${output()}`);
}

/**
 * A fetch that lets `rewrite(request, index)` change a request (return a new one, or nothing to keep it), records
 * what it sends (method, path, headers) and the status it got back, then sends it with `send`.
 */
export function recordingFetch(rewrite = () => undefined, send = fetch) {
  const requests = [];
  const fetchAndRecord = async (input, init) => {
    const original = new Request(input, init);
    const request = rewrite(original, requests.length) ?? original;
    const entry = { method: request.method, path: new URL(request.url).pathname, headers: request.headers };
    requests.push(entry);
    const response = await send(request);
    entry.status = response.status;
    return response;
  };
  return { fetch: fetchAndRecord, requests };
}

/** A copy of `request` with one more header (the mock's `Prefer`, say). */
export function withHeader(request, name, value) {
  const headers = new Headers(request.headers);
  headers.set(name, value);
  return new Request(request, { headers });
}

/** A fetch whose answers lose their Retry-After header: the client has to fall back on its own backoff. */
export function withoutRetryAfter(send = fetch) {
  return async (input, init) => {
    const response = await send(input, init);
    const headers = new Headers(response.headers);
    headers.delete("Retry-After");
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
}
