"""HTTP errors in OpenAI's four-key envelope.

ApiError (any non-2xx reply)
 ├── bad_request()       400 invalid_request_error
 ├── not_found()         404 invalid_request_error
 └── built by the gate:  401, 429 (rate limits, quota), 500 (injected faults)
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A reply the simulator refuses with; carries everything the envelope and headers need."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.error_type = error_type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def envelope(self) -> dict[str, Any]:
        """The body: all four keys always present, null where they do not apply."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    """400: the caller sent something the API rejects."""
    return ApiError(400, message, param=param, code=code)


def not_found(message: str, *, param: str | None = None) -> ApiError:
    """404: an unknown, deleted or unstored id."""
    return ApiError(404, message, param=param)
