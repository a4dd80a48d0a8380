"""``itms deadletter`` against the real broker: it says when there are none, else lists them."""

from __future__ import annotations

import pytest

from ingest.deadletter import DeadLetter, DeadLetterPublisher
from ingest.kafka.clients import make_producer
from itms.cli import main
from itms.settings import Settings

pytestmark = pytest.mark.integration


def _point_cli_at(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("ITMS_KAFKA_BOOTSTRAP", settings.bootstrap_servers)
    monkeypatch.setenv("ITMS_TOPIC_PREFIX", settings.topic_prefix)
    monkeypatch.setenv("ITMS_DATABASE_URL", settings.dsn)


def test_deadletter_says_so_when_there_are_none_and_lists_them_when_there_are(
    itms_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _point_cli_at(monkeypatch, itms_settings)
    topic = itms_settings.topic("deadletter")

    assert main(["deadletter"]) == 0
    assert capsys.readouterr().out.strip() == f"no dead letters in {topic}"

    producer = make_producer(itms_settings.kafka)
    try:
        letters = DeadLetterPublisher(producer, topic)
        letters.publish(DeadLetter(
            value=b'{"vehicle_id": 7}', key=b"7", reason="lat: field required", code="schema",
            source_topic=itms_settings.topic("gps"), source_partition=1, source_offset=42,
            stage="probe",
        ))  # fmt: skip
        letters.flush()
    finally:
        producer.close()

    assert main(["deadletter"]) == 0
    out = capsys.readouterr().out
    assert f"{itms_settings.topic('gps')}[1]@42 schema: lat: field required" in out
    assert "no dead letters" not in out
