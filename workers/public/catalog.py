"""The agents and tools a process declared, as the front door lists and shows them (secret
tool arguments masked)."""

from __future__ import annotations

from workers.agent_modules import load_agent_modules as load_agent_modules
from workers.agents import DEMO_AGENT_MODULE as DEMO_AGENT_MODULE
from workers.agents import agent_names as agent_names
from workers.agents import current_folder_importable as current_folder_importable
from workers.agents import get_agent as get_agent
from workers.tools.breaker import is_open as is_open
from workers.tools.masking import masked_arguments as masked_arguments
from workers.tools.masking import scrubbed_text as scrubbed_text
from workers.tools.registry import default_registry as default_registry
