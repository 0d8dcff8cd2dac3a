"""Benchmarks: each runs a local fleet on the simulator, a developer's setup.

They set RUNQ_ENVIRONMENT=dev for themselves (the simulator key and the placeholder callback
secret are refused anywhere else), before any module reads the settings.
"""

import os

os.environ["RUNQ_ENVIRONMENT"] = "dev"
