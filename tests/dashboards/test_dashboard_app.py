"""The dashboard's part of the app: its Kafka client is closed when the app shuts down."""

from __future__ import annotations

from fastapi.testclient import TestClient

from itms.settings import Settings


class _Offsets:
    closed = 0

    def close(self) -> None:
        self.closed += 1


def test_kafka_client_closed_at_shutdown() -> None:
    from api.app import create_app

    # the pool opens in the background: no database is needed for start and stop
    app = create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none"))
    offsets = _Offsets()
    with TestClient(app):
        app.state.topic_offsets = offsets
        assert offsets.closed == 0
    assert offsets.closed == 1
