"""The service's log lines: plain text on a terminal, one JSON object per line on Cloud Run,
where Cloud Logging reads each line's `severity` and `message`; a record's `fields` (given as
`extra={"fields": {...}}`) join the object, for log-based metrics to read."""

from __future__ import annotations

import json
import logging
import os
import sys

SERVICE_LOGGER = "diamonds"


class CloudLoggingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["message"] += "\n" + self.formatException(record.exc_info)
        return json.dumps(entry)


def configure(level: str) -> None:
    """Give the service's loggers `level` and, unless one is already there, a handler."""
    logger = logging.getLogger(SERVICE_LOGGER)
    logger.setLevel(level)
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("K_SERVICE"):
        handler.setFormatter(CloudLoggingFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
