"""Structured logs: JSON lines with the record's fields, credentials never written."""

from __future__ import annotations

import json
import logging

from itms.logs import JsonFormatter, RedactingFormatter, redact


def test_credentials_are_masked() -> None:
    line = ("connecting to postgresql://itms:s3cr3t@db:5432/itms with password=hunter2 and"
            " Authorization: Bearer abc.def.ghi, ITMS_SECRET_KEY=xyz")  # fmt: skip
    out = redact(line)
    for secret in ("s3cr3t", "hunter2", "abc.def.ghi", "xyz"):
        assert secret not in out
    assert "postgresql://itms:***@db:5432/itms" in out and "Bearer ***" in out


def test_json_lines_carry_level_logger_message_extras_and_exceptions() -> None:
    fields = {"name": "itms.worker", "levelno": logging.WARNING, "levelname": "WARNING",
              "msg": "lag %d on %s", "args": (42, "postgresql://u:pw@h/db"), "partition": 3}
    rec = logging.makeLogRecord(fields)
    try:
        raise ValueError("token=tok123")
    except ValueError:
        import sys

        rec.exc_info = sys.exc_info()
    obj = json.loads(JsonFormatter().format(rec))
    assert obj["level"] == "WARNING" and obj["logger"] == "itms.worker"
    assert obj["msg"] == "lag 42 on postgresql://u:***@h/db"
    assert obj["partition"] == 3
    assert "ValueError" in obj["exc"] and "tok123" not in obj["exc"]
    assert obj["ts"].endswith("+00:00")
    text = RedactingFormatter("%(message)s").format(rec)
    assert "pw@" not in text


def test_coordinator_moves_during_a_group_join_are_not_warnings(capsys) -> None:
    from kafka.errors import NodeNotReadyError, NotCoordinatorError

    from itms.logs import configure

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure()
        log = logging.getLogger("kafka.coordinator.base")
        log.warning("Marking the coordinator dead (node %s) for group %s: %s.", 1, "itms-probes",
                    NotCoordinatorError())  # fmt: skip
        log.warning("Marking the coordinator dead (node %s) for group %s: %s.", 1, "itms-probes",
                    NodeNotReadyError())  # fmt: skip
        err = capsys.readouterr().err
        assert "NotCoordinatorError" not in err and "NOT_COORDINATOR" not in err
        assert "WARNING kafka.coordinator.base: Marking the coordinator dead" in err
        assert "NodeNotReady" in err
        configure(verbose=True)
        logging.getLogger("kafka").setLevel(logging.INFO)  # asked for the client's details
        log.warning("Marking the coordinator dead (node %s) for group %s: %s.", 1, "itms-probes",
                    NotCoordinatorError())  # fmt: skip
        assert "INFO kafka.coordinator.base: Marking the coordinator dead" in (
            capsys.readouterr().err)  # fmt: skip
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("kafka").setLevel(logging.WARNING)
