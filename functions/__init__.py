"""The service: the Cloud Functions (main.py's targets), their routes, database and instance.

Pydantic scans the entry points of every installed distribution for plugins when it completes
its first model, a cost each cold start pays (`benchmarks/startup.py`, docs/results.md); the
service uses none, so the scan is skipped unless PYDANTIC_DISABLE_PLUGINS
says otherwise.
"""

import os

os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
