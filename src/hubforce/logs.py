"""Process-wide logging: one line per event on stderr, as text or JSON, secrets masked.

Every hubforce module logs through the standard `logging` module under the `hubforce.*`
names; the CLI calls `configure` once, from `--log-level`/`--log-format` (or the
HUBFORCE_LOG_LEVEL and HUBFORCE_LOG_FORMAT environment variables). Whatever a message holds,
the handler masks tokens, passwords and session ids (`hubforce.errors.redact`) before writing
it, so a vendor error body quoting a credential never reaches a log file in clear text.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Literal

from hubforce.errors import redact

LogFormat = Literal["text", "json"]
LEVELS = ("debug", "info", "warning", "error")
_HANDLER_NAME = "hubforce"


class RedactingFormatter(logging.Formatter):
    """A formatter whose output, traceback included, has its secrets masked."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one masked text line."""
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (masked), exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one masked JSON line."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure(
    level: str = "warning", fmt: LogFormat = "text", stream: IO[str] | None = None
) -> None:
    """Send hubforce's logs at `level` and above to `stream` (stderr), once per process."""
    if level.lower() not in LEVELS:
        raise ValueError(f"unknown log level {level!r}: use one of {', '.join(LEVELS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level.upper())
    logger = logging.getLogger("hubforce")
    for old in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
        logger.removeHandler(old)  # configured again (tests, a second CLI call in process)
    logger.addHandler(handler)
    # The handler filters; the logger is only opened up for more detail than the default
    # (WARNING), so that asking for less never hides records from other handlers.
    if logging.getLevelName(level.upper()) < logger.getEffectiveLevel():
        logger.setLevel(level.upper())
