"""What a callback signing secret looks like (Standard Webhooks' `whsec_<base64>`).

The settings check a secret when they are read; `workers/callbacks/signing.py` signs with it.
"""

from __future__ import annotations

import base64

SECRET_PREFIX = "whsec_"

# Below this the HMAC key is guessable; Standard Webhooks' own secrets carry 24 bytes or more.
MIN_KEY_BYTES = 24


def is_valid_secret(secret: str) -> bool:
    """A `whsec_` secret whose key decodes to at least 24 bytes."""
    if not secret.startswith(SECRET_PREFIX):
        return False
    try:
        # validate=True: a stray character is a typo, not something to skip silently.
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError:
        return False
    return len(key) >= MIN_KEY_BYTES
