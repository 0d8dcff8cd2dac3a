"""Standard Webhooks signing (https://www.standardwebhooks.com), the scheme OpenAI's own
webhooks use, so receivers verify runq's callbacks with an off-the-shelf library.

Pure: the caller passes the message id and the timestamp.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from config.signing_secret import SECRET_PREFIX


def secret_bytes(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, *, message_id: str, timestamp_s: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`."""
    signed = f"{message_id}.{timestamp_s}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    secret: str, *, message_id: str, timestamp_s: int, body: bytes
) -> dict[str, str]:
    """Every header a Standard Webhooks receiver checks."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": sign(
            secret, message_id=message_id, timestamp_s=timestamp_s, body=body
        ),
    }
