"""PostgreSQL stopped while data flows (writers wait, offsets stay uncommitted), then the Kafka
broker stopped and restarted while the feed is published (producers retry): once both are back
everything is stored exactly once, equal to an undisturbed run's results — incidents
included (the incident worker reconnects and decides every minute as without the outages)."""

from __future__ import annotations

import os
import time

import pytest

from bench.reliability.fault_run import FaultRun
from bench.reliability.kafka_inspection import end_offsets, kafka_committed
from bench.reliability.processes import WORKERS
from bench.reliability.progress import stored_offsets
from itms import stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _held(settings) -> int:
    return sum(end_offsets(settings, "gps").values())


def test_broker_restart_and_database_outage_lose_and_double_nothing(
    itms_settings, stack_settings, db_factory, network, fault_feed, speedup, pg_down_s, tmp_path
) -> None:
    if not (stack_settings.uses_local_kafka and stack_settings.uses_local_postgres):
        pytest.skip("needs the project-owned broker and PostgreSQL to stop and start them")
    kafka_down_s = float(os.environ.get("ITMS_FAULT_KAFKA_DOWN_S", "10"))
    kafka, pg = stack.local_kafka(stack_settings), stack.local_postgres(stack_settings)
    run = FaultRun(itms_settings, network, fault_feed, tmp_path / "logs", speedup=speedup)
    recovery: dict[str, float] = {}
    try:
        run.start_workers()
        run.start_feed()
        run.wait_progress(run.progress())

        done = run.progress()
        pg.down()
        published = _held(itms_settings)
        time.sleep(pg_down_s / 3)  # the outage; workers retry their checkpoint meanwhile
        committed = kafka_committed(itms_settings, "gps")
        time.sleep(pg_down_s * 2 / 3)
        # data kept coming, but no offset was committed to Kafka without its results stored
        assert _held(itms_settings) > published, "the feed ended: lower ITMS_FAULT_SPEEDUP"
        assert kafka_committed(itms_settings, "gps") == committed
        pg.up()
        t0 = time.monotonic()  # recovery: from the database being back to the next checkpoint
        stored = stored_offsets(itms_settings.dsn, itms_settings, "gps")
        assert all(o <= stored.get(p, 0) for p, o in committed.items()), (committed, stored)
        run.wait_progress(done, timeout_s=120)
        recovery["postgres"] = time.monotonic() - t0

        before = run.progress()
        kafka.down()
        time.sleep(kafka_down_s)  # the outage (the feed keeps producing into its buffer)
        kafka.up()
        t0 = time.monotonic()
        run.wait_progress(before, timeout_s=120)
        recovery["kafka"] = time.monotonic() - t0
        assert run.feeding(), "the feed ended before the broker restart: lower the speedup"
        took = run.check(db_factory())
        print(
            f"recovery after the service was back (s): {recovery}; results equal after {took:.1f} s"
        )
        assert all(run.procs.alive(n) for n in WORKERS)
    finally:
        if not kafka.is_running():
            kafka.up()
        if not pg.is_running():
            pg.up()
        run.close()
