"""Log output of ``ronghe serve``: plain text for people, or one JSON object a line.

JSON lines are for log shippers (Loki, Elasticsearch, journald's JSON export): each has
``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger`` and ``message``, the
formatted exception as ``exception`` when there is one, and ``call_id`` / ``branch`` when
the line was logged with that context (``extra={"call_id": ...}`` or a
``logging.LoggerAdapter`` carrying them).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Final, Literal

__all__ = ["JsonFormatter", "configure_logging"]

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Context attributes copied into a JSON line when a record carries them.
_CONTEXT_FIELDS: Final = ("call_id", "branch")


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON (UTF-8 kept as is, not escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str, log_format: Literal["text", "json"]) -> None:
    """Send every log line to standard error at ``level`` in ``log_format``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
