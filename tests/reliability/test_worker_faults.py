"""Workers SIGKILLed at random moments and restarted, and a second probe worker joining and
leaving the consumer group mid-stream: the stored results — incidents included — equal an
undisturbed run's."""

from __future__ import annotations

import random
import time
from datetime import timedelta

import pytest

from analytics.workers.probe_worker import PROBE_GROUP
from bench.reliability.fault_run import FaultRun
from bench.reliability.kafka_inspection import group_members
from bench.reliability.polling import poll_until
from bench.reliability.processes import WORKERS
from bench.reliability.progress import incidents_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_killed_restarted_and_rebalanced_workers_lose_and_double_nothing(
    itms_settings, db_factory, network, fault_feed, speedup, tmp_path
) -> None:
    rng = random.Random(9)
    run = FaultRun(itms_settings, network, fault_feed, tmp_path / "logs", speedup=speedup)
    try:
        run.start_workers()
        run.start_feed()
        # SIGKILL the probe worker three times at a random moment after it made progress;
        # the state builder and the detector worker die with it once each
        for victims in (("probe",), ("probe", "state"), ("probe", "detectors")):
            run.wait_progress(run.progress())
            time.sleep(rng.uniform(0.5, 4.0))  # the random moment of the fault
            for victim in victims:
                run.procs.kill(victim)
                run.procs.worker(victim)
        # the incident worker dies at a random moment once it has decided the feed's first
        # minutes (its detectors' persistence counters are running by then)
        first = fault_feed.start + timedelta(minutes=2)
        poll_until(lambda: (incidents_until(itms_settings.dsn) or fault_feed.start) >= first,
                   timeout_s=120, what="the feed's first incident minutes decided")  # fmt: skip
        time.sleep(rng.uniform(0.5, 4.0))
        decided = incidents_until(itms_settings.dsn)
        run.procs.kill("incidents")
        run.procs.worker("incidents")
        assert run.feeding(), "the feed ended before the faults: slow it down (ITMS_FAULT_SPEEDUP)"
        # a second probe worker joins (the partitions are shared), then leaves (SIGTERM)
        run.procs.worker("probe", "probe-2")
        poll_until(lambda: group_members(itms_settings, PROBE_GROUP) == 2, timeout_s=90,
                   what="two probe workers in the group")  # fmt: skip
        run.wait_progress(run.progress())
        assert run.procs.stop("probe-2") == 0, run.procs.log_tail("probe-2")
        took = run.check(db_factory())
        print(f"results equal to the reference {took:.1f} s after the feed was read back;"
              f" incident worker killed after deciding {decided:%H:%M}")  # fmt: skip
        assert all(run.procs.alive(n) for n in WORKERS)
    finally:
        run.close()
