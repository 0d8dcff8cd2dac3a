"""Operators' basic auth for the dashboard and the gateway's `/metrics`.

Operators are not API clients: they get one user and password from settings
(RUNQ_OPERATOR_USER / RUNQ_OPERATOR_PASSWORD), the same pair `runq flower` uses, so a
browser and a Prometheus scrape job can both log in without an API key. With no password
set the pages answer 503 rather than open up.

The run page's decision forms (approve, reject) are the dashboard's only writes. A browser
sends basic-auth credentials with any request to the site, a cross-site form POST included,
so each form also carries a token only this server can compute (`form_token`), and a request
the browser marks cross-site is refused before the token is even read.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from config.settings import get_settings

_basic = HTTPBasic(realm="runq operators", auto_error=False)


def require_operator(
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> str:
    """The operator's user name, or 401 (503 when no operator password is configured)."""
    settings = get_settings()
    if settings.operate.operator_password is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "set RUNQ_OPERATOR_PASSWORD to open this page"
        )
    expected_password = settings.operate.operator_password.get_secret_value().encode()
    if credentials is not None:
        # compare_digest on both parts, so a wrong user costs as long as a wrong password.
        user_ok = hmac.compare_digest(
            credentials.username.encode(), settings.operate.operator_user.encode()
        )
        password_ok = hmac.compare_digest(credentials.password.encode(), expected_password)
        if user_ok and password_ok:
            return credentials.username
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "operator credentials required",
        headers={"WWW-Authenticate": 'Basic realm="runq operators"'},
    )


Operator = Annotated[str, Depends(require_operator)]


def form_token(run_id: str, call_id: str) -> str:
    """The token a decision form on the page of `run_id` carries for `call_id`: an HMAC of
    the call under the operator password, which a page on another site cannot compute."""
    password = get_settings().operate.operator_password
    key = b"" if password is None else password.get_secret_value().encode()
    message = f"runq-dashboard-decide\x00{run_id}\x00{call_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def check_form(request: Request, run_id: str, call_id: str, token: str) -> None:
    """403 unless the form came from the dashboard's own page for this call (CSRF)."""
    # Sec-Fetch-Site is set by the browser itself; older browsers send none, and for them
    # the token alone decides.
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a form from another site is refused")
    if not hmac.compare_digest(token.encode(), form_token(run_id, call_id).encode()):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "the form's token does not match: reload the run page"
        )
