/** Verifying the Standard Webhooks signature of the events the API POSTs to a job's `webhook_url`. */
import { Webhook, WebhookVerificationError as SignatureError } from "standardwebhooks";

import { WebhookVerificationError } from "./errors.js";
import type { WebhookEvent } from "./types.js";

/** Request headers as a receiver has them: a fetch `Headers`, or a plain object such as Node's `req.headers`. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

/**
 * The event, once its `webhook-signature` matches the body under `secret` (the `whsec_` secret of
 * `getWebhookSecret()`) and its `webhook-timestamp` is within five minutes of now; a `WebhookVerificationError`
 * otherwise. Pass the body exactly as received (the raw bytes or text, not re-serialized JSON): the signature covers
 * those bytes. Deduplicate on the `webhook-id` header: an event may arrive more than once.
 */
export function verifyWebhook(body: string | Uint8Array, headers: WebhookHeaders, secret: string): WebhookEvent {
  const payload = typeof body === "string" ? body : new TextDecoder().decode(body);
  try {
    return new Webhook(secret).verify(payload, plainHeaders(headers)) as WebhookEvent;
  } catch (error) {
    if (error instanceof SignatureError) throw new WebhookVerificationError(error.message);
    throw error;
  }
}

function plainHeaders(headers: WebhookHeaders): Record<string, string> {
  const plain: Record<string, string> = {};
  if (headers instanceof Headers) {
    headers.forEach((value, name) => {
      plain[name] = value;
    });
    return plain;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) plain[name.toLowerCase()] = Array.isArray(value) ? value.join(" ") : value;
  }
  return plain;
}
