// Upload hello.wav, transcribe it, wait for the job and show its transcript, through the TypeScript SDK's client.
// The API's base URL and key come in the query string (`?api=...&key=...`): the test serves this page from one
// origin and runs the mock on another, so every call is a cross-origin request that needs the mock's CORS answer.
import { createClient } from "/sdk/index.js"; // the package entry, unbundled

const query = new URLSearchParams(location.search);
const show = (id, text) => (document.getElementById(id).textContent = text);

async function main() {
  const baseUrl = query.get("api");
  show("api", baseUrl);
  const client = createClient({ baseUrl, apiKey: query.get("key") });
  show("step", "fetching the recording");
  const recording = await (await fetch("/hello.wav")).blob();
  show("step", "uploading");
  const file = await client.upload(new File([recording], "hello.wav", { type: "audio/wav" }));
  show("step", "transcribing");
  const job = await client.transcribe(file.file_id);
  show("job-id", job.job_id);
  // Each status the polls saw, once: "queued → completed" shows that waitFor really waited.
  const seen = [job.status];
  const note = (status) => seen.at(-1) !== status && seen.push(status);
  show("status", seen.join(" → "));
  show("step", "waiting");
  const done = await client.waitFor(job.job_id, { onProgress: (polled) => note(polled.status) });
  show("status", seen.join(" → "));
  show("step", "downloading the transcript");
  const text = await client.transcript(done.job_id, "text");
  const transcript = document.createElement("pre");
  transcript.id = "transcript";
  transcript.textContent = text.trim();
  document.body.append(transcript);
  show("step", "done");
}

main().catch((error) => {
  const shown = document.getElementById("error");
  shown.hidden = false;
  shown.textContent = `${error.name}: ${error.message}`;
  show("step", "failed");
});
