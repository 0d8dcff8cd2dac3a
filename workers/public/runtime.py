"""The engine's per-process runtime, as the front door may use it: database sessions, the
Redis and SDK clients, the step context, logging and migrations.

Re-exported from where they are built (`workers/wiring.py` and friends), so the gateway
depends on this one surface and the engine can move its insides freely.
"""

from __future__ import annotations

from workers.db.migrate import upgrade_to_head as upgrade_to_head
from workers.observability.worker_hooks import format_process_logs as format_process_logs
from workers.redis_keys import run_events_channel as run_events_channel
from workers.redis_keys import run_events_key as run_events_key
from workers.redis_keys import webhook_seen_key as webhook_seen_key
from workers.runs.context import Later as Later
from workers.runs.context import Next as Next
from workers.runs.context import StepName as StepName
from workers.wiring import get_openai_client as get_openai_client
from workers.wiring import get_redis as get_redis
from workers.wiring import get_response_cache as get_response_cache
from workers.wiring import get_step_context as get_step_context
from workers.wiring import new_session as new_session
from workers.wiring import reset as reset
