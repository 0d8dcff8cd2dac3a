"""What the engine stores, as the front door may read it: the store modules, the table rows
and their statuses. The front door never returns a row over HTTP (see `views.py`).
"""

from __future__ import annotations

from workers.db import fleet_store as fleet_store
from workers.db import key_store as key_store
from workers.db import run_pages as run_pages
from workers.db import store as store
from workers.db import thread_store as thread_store
from workers.db.models import AssistantVersion as AssistantVersion
from workers.db.models import Run as Run
from workers.db.models import Thread as Thread
from workers.db.models import ToolCall as ToolCall
from workers.db.statuses import FINISHED_TOOL_STATUSES as FINISHED_TOOL_STATUSES
from workers.db.statuses import TERMINAL_EVENT_TYPES as TERMINAL_EVENT_TYPES
from workers.db.statuses import TERMINAL_STATUSES as TERMINAL_STATUSES
from workers.db.statuses import RunStatus as RunStatus
