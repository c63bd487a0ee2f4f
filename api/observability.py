"""Logging: one line per request, as text or as JSON (ATELIERS_LOG_FORMAT=json)."""

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from api.config import Settings

_FIELDS = ("request_id", "method", "path", "status", "duration_ms")

# C0, DEL, C1 and the Unicode line separators: logged raw, a request path could forge log lines.
_CONTROLS = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
_TEXT_ESCAPES = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _CONTROLS} | {
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
}
# json.dumps escapes C0 itself; the rest become JSON escapes, so a parsed value is unchanged.
_JSON_ESCAPES = {code: f"\\u{code:04x}" for code in _CONTROLS if code >= 0x7F}


def escape_controls(text: str) -> str:
    """The text on one line: control characters written as backslash escapes, accents kept."""
    return text if text.isprintable() else text.translate(_TEXT_ESCAPES)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({name: getattr(record, name) for name in _FIELDS if hasattr(record, name)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False).translate(_JSON_ESCAPES)


class TextFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's own name)
        # The message line only: a traceback, appended after it, keeps its newlines.
        return escape_controls(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(
            f"{name}={escape_controls(str(getattr(record, name)))}"
            for name in _FIELDS[:1] + _FIELDS[4:]
            if hasattr(record, name)
        )
        return f"{line} {extras}" if extras else line


def configure_logging(settings: Settings) -> None:
    """Send the service's logs to stderr in the configured format."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("ateliers")
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    root.propagate = False
