"""Our signatures verify with the reference Standard Webhooks receiver."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from config.settings import PLACEHOLDER_CALLBACK_SECRET
from config.signing_secret import is_valid_secret
from workers.callbacks.signing import signed_headers

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
BODY = b'{"type": "run.completed", "data": {"id": "run_1"}}'


def test_a_signed_callback_verifies_with_the_standardwebhooks_library():
    headers = signed_headers(SECRET, message_id="msg_1", timestamp_s=int(time.time()), body=BODY)
    assert Webhook(SECRET).verify(BODY, headers) == {
        "type": "run.completed",
        "data": {"id": "run_1"},
    }


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h | {"webhook-id": "msg_2"}, b),
        lambda h, b: (h, b.replace(b"run_1", b"run_2")),
        lambda h, b: (h | {"webhook-timestamp": str(int(h["webhook-timestamp"]) - 3600)}, b),
    ],
    ids=["other id", "other body", "stale timestamp"],
)
def test_a_tampered_callback_does_not_verify(tamper):
    headers = signed_headers(SECRET, message_id="msg_1", timestamp_s=int(time.time()), body=BODY)
    headers, body = tamper(headers, BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, headers)


def test_another_secret_does_not_verify():
    other = "whsec_" + base64.b64encode(b"o" * 32).decode()
    headers = signed_headers(other, message_id="msg_1", timestamp_s=int(time.time()), body=BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(BODY, headers)


@pytest.mark.parametrize(
    ("secret", "valid"),
    [
        (SECRET, True),
        (PLACEHOLDER_CALLBACK_SECRET, True),
        ("whsec_c2hvcnQ=", False),
        ("k" * 40, False),
    ],
)
def test_secret_shape(secret, valid):
    assert is_valid_secret(secret) is valid
