"""The project-owned local Kafka broker: server.properties rendering and a real lifecycle."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from ingest.kafka.local_broker import LocalKafkaBroker, render_server_properties

# Not the session broker's ports (19092/19093), so both can run at once.
PORT, CONTROLLER_PORT = 29092, 29093


def _processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line contains text (read from /proc)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if text.encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_render_server_properties_standalone_kraft(tmp_path: Path) -> None:
    text = render_server_properties(port=1234, controller_port=1235, log_dir=tmp_path / "data")
    props = dict(line.split("=", 1) for line in text.splitlines())
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:1235"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:1234,CONTROLLER://127.0.0.1:1235"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:1234"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["num.partitions"] == "6"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
    ):
        assert props[key] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "true"
    assert "message.max.bytes" not in props


def test_status_before_install(tmp_path: Path) -> None:
    broker = LocalKafkaBroker(state_dir=tmp_path, port=PORT, controller_port=CONTROLLER_PORT)
    status = broker.status()
    assert status["name"] == "kafka"
    assert status["running"] is False
    assert status["address"] == f"127.0.0.1:{PORT}"
    assert status["pid"] is None
    assert not broker.is_running()
    broker.down()  # nothing to stop: still fine


@pytest.mark.integration
def test_local_broker_lifecycle(tmp_path: Path) -> None:
    broker = LocalKafkaBroker(
        state_dir=tmp_path, port=PORT, controller_port=CONTROLLER_PORT, heap_mb=384
    )
    topic = f"itms_broker_test_{uuid.uuid4().hex[:8]}"
    try:
        broker.up(timeout_s=180)
        status = broker.status()
        assert status["running"] is True
        assert status["address"] == f"127.0.0.1:{PORT}"
        assert status["version"] == "4.1.2"
        assert status["data_dir"] == str(tmp_path / "kafka" / "data")
        pid = status["pid"]
        assert isinstance(pid, int)

        producer = KafkaProducer(bootstrap_servers=broker.address, acks="all")
        try:
            meta = producer.send(topic, key=b"k1", value=b"hello itms").get(timeout=30)
        finally:
            producer.close()
        consumer = KafkaConsumer(bootstrap_servers=broker.address, enable_auto_commit=False)
        try:
            tp = TopicPartition(topic, meta.partition)
            consumer.assign([tp])
            consumer.seek(tp, meta.offset)
            got = []
            deadline = time.monotonic() + 30
            while not got and time.monotonic() < deadline:
                got = [r for batch in consumer.poll(timeout_ms=1000).values() for r in batch]
        finally:
            consumer.close()
        assert [(r.key, r.value) for r in got] == [(b"k1", b"hello itms")]

        started = time.monotonic()
        broker.up()  # already running: returns at once, same process
        assert time.monotonic() - started < 2.0
        assert broker.status()["pid"] == pid
    finally:
        broker.down()

    assert _processes_mentioning(str(tmp_path)) == []
    assert not broker.pid_file.exists()
    assert broker.status()["running"] is False
    broker.down()  # idempotent


def test_a_starting_broker_is_judged_by_its_own_process(tmp_path: Path, monkeypatch) -> None:
    """Our child counts as alive while it runs, whatever /proc says of its command line, and
    one that dies at start-up is retried once, then reported with its exit status."""
    import subprocess

    broker = LocalKafkaBroker(state_dir=tmp_path, port=PORT, controller_port=CONTROLLER_PORT)
    broker._proc = subprocess.Popen(["sleep", "30"])  # alive, but no kafka.Kafka in cmdline
    try:
        assert not broker.is_running() and broker._exited() is None
    finally:
        broker._proc.kill()
        broker._proc.wait()
    assert broker._exited() == "killed by signal 9"

    starts = []

    def dying_start() -> None:
        starts.append(time.monotonic())
        broker._proc = subprocess.Popen(["sh", "-c", "exit 3"])
        broker.pid_file.write_text(f"{broker._proc.pid}\n")

    monkeypatch.setattr(broker, "_start", dying_start)
    monkeypatch.setattr(time, "sleep", lambda s: None)  # the pause before the second try
    with pytest.raises(RuntimeError, match=r"exited during startup \(exit status 3\)"):
        broker.up(timeout_s=30)
    assert len(starts) == 2
    assert not broker.pid_file.exists()  # nothing half-started left behind
