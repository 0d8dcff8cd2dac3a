"""An agent module that logs the provider key through `uvicorn.error` when `runq serve` loads
it: the line must reach the output scrubbed, in runq's log format."""

from __future__ import annotations

import logging
import os

logging.getLogger("uvicorn.error").error(
    "a library logged a key: %s", os.environ.get("OPENAI_API_KEY", "")
)
