"""Process logging: plain text for a terminal or JSON lines for a log collector
(``ITMS_LOG_FORMAT=json``), with credentials masked in every message."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

# user:password@ in URLs, password=… / secret=… / token=… in key-value text
_SECRETS = (
    (re.compile(r"(?P<pre>[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+(?=@)", re.I), r"\g<pre>***"),
    (re.compile(r"(?P<pre>(?:password|passwd|pwd|secret_key|secret|token|api_key)\s*[=:]\s*)"
                r"[^\s&,;'\"]+", re.I), r"\g<pre>***"),
    (re.compile(r"(?P<pre>\bBearer\s+)[A-Za-z0-9._~+/=-]+"), r"\g<pre>***"),
)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def redact(text: str) -> str:
    """``text`` with passwords, secrets and bearer tokens replaced by ``***``."""
    for pattern, repl in _SECRETS:
        text = pattern.sub(repl, text)
    return text


class RedactingFormatter(logging.Formatter):
    """The usual text format, credentials masked."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC, RFC 3339), ``level``, ``logger``, ``msg``,
    ``exc`` when there is an exception, and any ``extra=`` fields; credentials masked."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, int | float | bool | None) else redact(
                    str(value)
                )
        return json.dumps(out, ensure_ascii=False)


class QuietGroupJoin(logging.Filter):
    """Demotes kafka-python's "Marking the coordinator dead … NotCoordinatorError" warning
    to INFO: a consumer group join meets it routinely while the broker moves the group's
    coordinator, and the client retries by itself. Other coordinator errors stay warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Marking the coordinator dead") and any(
            "NotCoordinator" in type(a).__name__ or "NOT_COORDINATOR" in str(a)
            for a in (record.args if isinstance(record.args, tuple) else ())
        ):
            record.levelno, record.levelname = logging.INFO, "INFO"
            return logging.getLogger(record.name).isEnabledFor(logging.INFO)
        return True


_KAFKA_COORDINATOR = "kafka.coordinator.base"


def configure(*, fmt: str = "text", verbose: bool = False) -> None:
    """Set up the root logger for a process (``fmt``: ``text`` or ``json``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if fmt == "json"
        else RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )  # fmt: skip
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("kafka").setLevel(logging.WARNING)
    coordinator = logging.getLogger(_KAFKA_COORDINATOR)
    if not any(isinstance(f, QuietGroupJoin) for f in coordinator.filters):
        coordinator.addFilter(QuietGroupJoin())
