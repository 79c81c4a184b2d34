/**
 * Turning what a caller has (a path, bytes, a Blob, a stream, a URL) into the body of `POST /v1/upload`.
 *
 * Bytes with a known size go as `FormData`, which every runtime sends. A stream, or any source when upload progress
 * is asked for in Node, goes as a multipart body this module writes itself, streamed through a byte counter:
 * fetch reports no upload progress, so counting what the network pulls is the only way to know.
 */

/** What `upload()` accepts: a path or an http(s) URL (the server fetches it), bytes, a Blob, or a stream. */
export type UploadSource = string | URL | Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array>;

/** Called as upload bytes leave: bytes sent so far, and the total when it is known. */
export type UploadProgress = (sentBytes: number, totalBytes: number | undefined) => void;

/** A request body for `POST /v1/upload`, ready for fetch. */
export type UploadBody =
  | { kind: "url"; json: { url: string; filename?: string } }
  | { kind: "form"; form: FormData; totalBytes: number }
  | { kind: "stream"; stream: ReadableStream<Uint8Array>; contentType: string; totalBytes: number | undefined };

/** The media itself, before it becomes a body. */
interface Media {
  filename: string;
  contentType: string;
  blob?: Blob;
  stream?: ReadableStream<Uint8Array>;
}

const DEFAULT_FILENAME = "upload";
const encoder = new TextEncoder();

/** Whether this runs in Node (where fetch streams request bodies over HTTP/1.1, unlike browsers). */
export function isNode(): boolean {
  return typeof process !== "undefined" && typeof process.versions?.node === "string";
}

/** The body that uploads `source`; `filename` overrides the name the source suggests. */
export async function prepareUpload(source: UploadSource, filename?: string,
  onProgress?: UploadProgress): Promise<UploadBody> {
  if (isRemoteUrl(source)) {
    const url = String(source);
    return { kind: "url", json: filename === undefined ? { url } : { url, filename } };
  }
  const media = await readMedia(source, filename);
  if (media.blob !== undefined && (onProgress === undefined || !isNode())) {
    const form = new FormData();
    form.append("file", media.blob, media.filename);
    return { kind: "form", form, totalBytes: media.blob.size };
  }
  return streamedMultipart(media, onProgress);
}

function isRemoteUrl(source: UploadSource): source is string | URL {
  const text = source instanceof URL ? source.href : typeof source === "string" ? source : "";
  return /^https?:\/\//i.test(text);
}

async function readMedia(source: UploadSource, filename?: string): Promise<Media> {
  if (typeof source === "string" || source instanceof URL) return readPath(source, filename);
  if (source instanceof Blob) {
    const named = "name" in source && typeof source.name === "string" && source.name ? source.name : undefined;
    return { filename: filename ?? named ?? DEFAULT_FILENAME, contentType: source.type || octetStream, blob: source };
  }
  if (source instanceof ReadableStream) {
    return { filename: filename ?? DEFAULT_FILENAME, contentType: octetStream, stream: source };
  }
  const bytes = source instanceof ArrayBuffer ? new Uint8Array(source) : source;
  return { filename: filename ?? DEFAULT_FILENAME, contentType: octetStream, blob: new Blob([bytes as Uint8Array<ArrayBuffer>]) };
}

const octetStream = "application/octet-stream";

async function readPath(path: string | URL, filename?: string): Promise<Media> {
  if (!isNode()) throw new TypeError("upload from a path needs Node; in a browser pass a Blob or File");
  // Imported here, not at the top, so that browsers (and their bundlers) never load Node's modules.
  const { openAsBlob } = await import("node:fs");
  const { basename } = await import("node:path");
  const { fileURLToPath } = await import("node:url");
  const filePath = path instanceof URL ? fileURLToPath(path) : path;
  // openAsBlob reads the file lazily, as the body is sent, instead of loading it whole.
  return { filename: filename ?? basename(filePath), contentType: octetStream, blob: await openAsBlob(filePath) };
}

/** `multipart/form-data` with one `file` part, written by hand so that the file can stream through a counter. */
function streamedMultipart(media: Media, onProgress?: UploadProgress): UploadBody {
  const boundary = `voxscriber-${crypto.randomUUID()}`;
  const head = encoder.encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoteFilename(media.filename)}"\r\n` +
      `Content-Type: ${media.contentType}\r\n\r\n`,
  );
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`);
  const content = media.stream ?? (media.blob as Blob).stream();
  const totalBytes = media.blob?.size;
  const counted = onProgress === undefined ? content : content.pipeThrough(byteCounter(totalBytes, onProgress));
  return {
    kind: "stream",
    stream: concatStreams(head, counted, tail),
    contentType: `multipart/form-data; boundary=${boundary}`,
    totalBytes,
  };
}

/** A filename fit for a quoted header parameter: the escapes browsers use for `"`, CR and LF. */
function quoteFilename(name: string): string {
  return name.replace(/"/g, "%22").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

function byteCounter(totalBytes: number | undefined, onProgress: UploadProgress): TransformStream<Uint8Array, Uint8Array> {
  let sent = 0;
  return new TransformStream({
    start() {
      onProgress(0, totalBytes);
    },
    transform(chunk, controller) {
      sent += chunk.byteLength;
      controller.enqueue(chunk);
      onProgress(sent, totalBytes);
    },
  });
}

function concatStreams(head: Uint8Array, body: ReadableStream<Uint8Array>, tail: Uint8Array): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(head);
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (!done) {
        controller.enqueue(value);
        return;
      }
      controller.enqueue(tail);
      controller.close();
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
