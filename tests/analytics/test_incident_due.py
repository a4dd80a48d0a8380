"""When the incident worker decides a minute: once the stored progress (watermark) of every input
partition with data has passed the minute's end plus the availability lag; partitions quiet
for ``max_wait_s`` are not waited for (the fallback)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.workers.incident_worker import (
    IncidentService,
    IncidentWorkerParams,
    InputPartition,
)
from roadnet import load_network
from simulators.synthetic_grid import write_grid

M = datetime(2026, 11, 25, 3, 10, tzinfo=UTC)  # a minute; its need (decision time) is 03:11
MIN = timedelta(minutes=1)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> IncidentService:
    path = write_grid(Path(tmp_path_factory.mktemp("grid")) / "grid.geojson", rows=2, cols=3)
    return IncidentService(load_network(path), IncidentWorkerParams(max_wait_s=180.0))


def part(name: str, watermark: datetime | None, idle_s: float = 0.0,
         lead_s: float = 0.0) -> InputPartition:  # fmt: skip
    return InputPartition(name, watermark, idle_s, lead_s)


def test_a_minute_waits_until_every_partition_is_past_its_need(service) -> None:
    need = M + timedelta(minutes=1)  # the end of the minute, not the matcher's decision lag
    assert service.need(M) == need
    probes_ahead = part("gps[0]", need + timedelta(minutes=3))
    # the detector partition's stored progress is behind: the minute waits for it
    behind = [probes_ahead, part("detectors[0]", need - timedelta(seconds=1))]
    assert service.ready_until(behind) == M - MIN
    assert M not in service.due_minutes(M - 2 * MIN, behind)
    # exactly at the need is not past it (more messages of that time may follow)
    at = [probes_ahead, part("detectors[0]", need)]
    assert service.due_minutes(M - 2 * MIN, at) == [M - MIN]
    # once every partition is past it, the minute is due (and nothing later than ready)
    past = [probes_ahead, part("detectors[0]", need + timedelta(milliseconds=1))]
    assert service.due_minutes(M - 2 * MIN, past) == [M - MIN, M]
    assert service.due_minutes(M, past) == []


def test_detector_partitions_are_read_a_minute_behind(service) -> None:
    """Readings ending at the decision time are complete only once the next minute's arrive,
    so the worker reads detectors a minute behind and a detector partition is ready a minute
    earlier than a probe partition with the same watermark."""
    lead = service.p.detector_lag_s
    assert lead == 60.0
    just_past_m = M + timedelta(milliseconds=1)  # the readings ending at M are in
    probes = part("gps[0]", M + timedelta(minutes=1, milliseconds=1))  # past need(M) = M + 1
    assert service.ready_until([probes, part("detectors[0]", just_past_m, lead_s=lead)]) == M
    assert service.ready_until([probes, part("detectors[0]", M, lead_s=lead)]) == M - MIN


def test_watermarks_far_ahead_make_several_minutes_due_in_order(service) -> None:
    ahead = [part("gps[0]", M + timedelta(minutes=7)), part("gps[1]", M + timedelta(minutes=5))]
    # the slower partition decides: need(m) < M + 5 min → m ≤ M + 3 min
    assert service.due_minutes(M - MIN, ahead) == [M + k * MIN for k in range(4)]


def test_partitions_without_data_do_not_count(service) -> None:
    ahead = part("gps[0]", M + timedelta(minutes=3))
    assert service.ready_until([ahead, part("gps[1]", None)]) == M + MIN
    assert service.ready_until([part("gps[0]", None), part("detectors[0]", None)]) is None
    assert service.due_minutes(None, []) == []
    assert service.due_minutes(M, [part("gps[1]", None, idle_s=1e6)]) == []


def test_a_quiet_partition_is_waited_for_only_max_wait_s(service) -> None:
    """The fallback: a partition whose stored progress has not moved for max_wait_s is left
    out; with every partition quiet, the minutes the data reaches into are decided."""
    stuck = M - timedelta(minutes=5)
    ahead = part("gps[0]", M + timedelta(minutes=4))
    assert service.ready_until([ahead, part("gps[1]", stuck, idle_s=179.0)]) == stuck - 2 * MIN
    assert service.ready_until([ahead, part("gps[1]", stuck, idle_s=180.0)]) == M + 2 * MIN
    # all quiet (the feed stopped): up to the newest data, never beyond it
    quiet = [part("gps[0]", M + timedelta(minutes=4), 600.0), part("gps[1]", stuck, 900.0)]
    assert service.ready_until(quiet) == M + 2 * MIN
    assert service.due_minutes(M + 2 * MIN, quiet) == []


def test_first_run_and_catch_up_are_bounded(service) -> None:
    ready = [part("gps[0]", M + timedelta(minutes=1, seconds=1))]
    assert service.ready_until(ready) == M
    first = service.due_minutes(None, ready)
    assert len(first) == service.p.max_catch_up_min and first[-1] == M
    assert first == sorted(first) and first[0] == M - (service.p.max_catch_up_min - 1) * MIN
    # further behind than max_catch_up_min: skip ahead to the recent minutes
    assert service.due_minutes(M - timedelta(hours=5), ready) == first
    assert service.due_minutes(M - 3 * MIN, ready) == [M - 2 * MIN, M - MIN, M]
