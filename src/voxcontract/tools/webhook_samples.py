"""How a receiver verifies a Standard Webhooks signature: with the ``standardwebhooks`` package, or by hand.

The hand-written versions follow the Standard Webhooks specification: the signed content is
``"{webhook-id}.{webhook-timestamp}.{raw body}"``, the key is the base64-decoded part of the secret after
``whsec_``, the header holds space-separated ``v1,<base64 HMAC-SHA256>`` values (several during a secret
rotation), and a timestamp more than five minutes away from the receiver's clock is refused.
"""

from __future__ import annotations

__all__ = ["TOLERANCE_SECONDS", "verification_samples"]

TOLERANCE_SECONDS = 5 * 60

_STANDARDWEBHOOKS = '''\
# pip install standardwebhooks
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

WEBHOOK_SECRET = "whsec_..."  # from GET /v1/webhooks/secret


def receive(body: bytes, headers: dict[str, str]) -> int:
    """Verify one delivery; the HTTP status to answer (2xx acknowledges, anything else is retried)."""
    # `body` must be the raw request body, exactly as received (not re-serialised JSON).
    try:
        event = Webhook(WEBHOOK_SECRET).verify(body, headers)
    except WebhookVerificationError:
        return 400
    print(event["type"], event["data"]["job_id"])  # hand it to your queue: answer within 10 s
    return 204
'''

_PYTHON_HMAC = f'''\
import base64
import hashlib
import hmac
import time

TOLERANCE_SECONDS = {TOLERANCE_SECONDS}  # reject timestamps more than 5 minutes away


def verify_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """True when `body` is signed with `secret` and the timestamp is fresh."""
    headers = {{name.lower(): value for name, value in headers.items()}}
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (msg_id and timestamp.isdigit() and signatures):
        return False
    if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed_content = f"{{msg_id}}.{{timestamp}}.{{body.decode()}}".encode()
    digest = hmac.new(key, signed_content, hashlib.sha256).digest()
    expected = base64.b64encode(digest).decode()
    for versioned in signatures.split(" "):
        version, _, signature = versioned.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False
'''

_JAVASCRIPT_HMAC = f"""\
import {{ createHmac, timingSafeEqual }} from "node:crypto";

const TOLERANCE_SECONDS = {TOLERANCE_SECONDS}; // reject timestamps more than 5 minutes away

// headers: lower-case names (as Node's http module gives them); body: the raw body (string or Buffer).
export function verifyWebhook(secret, headers, body) {{
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"] ?? "";
  const signatures = headers["webhook-signature"];
  if (!id || !/^[0-9]+$/.test(timestamp) || !signatures) return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${{id}}.${{timestamp}}.${{body}}`).digest();
  return signatures.split(" ").some((versioned) => {{
    const [version, signature = ""] = versioned.split(",");
    const given = Buffer.from(signature, "base64");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  }});
}}
"""


def verification_samples() -> dict[str, str]:
    """``standardwebhooks`` (Python), ``python`` (plain HMAC) and ``javascript`` (node:crypto) verifiers."""
    return {
        "standardwebhooks": _STANDARDWEBHOOKS,
        "python": _PYTHON_HMAC,
        "javascript": _JAVASCRIPT_HMAC,
    }
