"""Operators' basic auth for the dashboard and the gateway's `/metrics`.

Operators are not API clients: they get one user and password from settings
(RUNQ_OPERATOR_USER / RUNQ_OPERATOR_PASSWORD), the same pair `runq flower` uses, so a
browser and a Prometheus scrape job can both log in without an API key. With no password
set the pages answer 503 rather than open up.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, status
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
