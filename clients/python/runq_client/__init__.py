"""A thin client for runq's HTTP API (httpx2 + pydantic only)."""

from runq_client.async_client import AsyncClient
from runq_client.client import Client
from runq_client.models import ApiError, Event, Run, RunPage, ToolCall

__all__ = ["ApiError", "AsyncClient", "Client", "Event", "Run", "RunPage", "ToolCall"]
