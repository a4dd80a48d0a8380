"""Incident-detection thresholds from a TOML file and --set overrides: read, checked against
the parameter dataclasses, and used by the worker, the evaluation and the methods."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from analytics.incidents.params_file import (
    ParamsError,
    apply_overrides,
    load_overrides,
    parse_assignment,
    to_toml,
)
from analytics.incidents.probe_overdue import ProbeOverdue
from analytics.workers.incident_worker import IncidentWorkerParams
from evaluation import incident_eval
from itms.cli import main
from itms.settings import Settings
from itms.wiring.incidents import worker_params
from tests.analytics.test_probe_overdue import REF, snap, street

FILE = """
availability_lag_s = 40
windows_min = [2, 4]

[detector]
max_station_gap_m = 2500

[detector.california8]
t1_occdf = 10.0

[detector.probe_overdue]
min_vehicles = 3

[detector.fusion]
overdue = false

[tracker]
confirm_minutes = 2
"""


def test_a_file_changes_only_what_it_names(tmp_path) -> None:
    path = tmp_path / "incidents.toml"
    path.write_text(FILE, encoding="utf-8")
    p = apply_overrides(IncidentWorkerParams(), load_overrides(path))
    d = IncidentWorkerParams()
    assert p.availability_lag_s == 40.0 and isinstance(p.availability_lag_s, float)
    assert p.windows_min == (2, 4)
    assert p.detector.max_station_gap_m == 2500.0
    assert p.detector.california8.t1_occdf == 10.0
    assert p.detector.probe_overdue.min_vehicles == 3
    assert p.detector.fusion.overdue is False
    assert p.tracker.confirm_minutes == 2
    # everything else keeps its default
    assert p.detector.california8.t2_occrdf == d.detector.california8.t2_occrdf
    assert p.detector.probe_overdue.min_lost_s == d.detector.probe_overdue.min_lost_s
    assert p.detector.mcmaster == d.detector.mcmaster
    assert p.tracker.clear_minutes == d.tracker.clear_minutes
    assert p.stop_s == d.stop_s


def test_sets_apply_after_the_file_in_order(tmp_path) -> None:
    path = tmp_path / "incidents.toml"
    path.write_text(FILE, encoding="utf-8")
    sets = ["detector.probe_overdue.min_vehicles=4", "detector.snd.z_threshold=3.5",
            "detector.probe_overdue.min_vehicles=5", "tracker.clear_minutes = 4"]  # fmt: skip
    p = apply_overrides(IncidentWorkerParams(), load_overrides(path, sets))
    assert p.detector.probe_overdue.min_vehicles == 5
    assert p.detector.snd.z_threshold == 3.5
    assert p.tracker.clear_minutes == 4
    assert p.tracker.confirm_minutes == 2  # from the file


def test_the_printed_defaults_read_back_to_the_same_parameters() -> None:
    changed = apply_overrides(IncidentWorkerParams(), load_overrides(None, [
        "detector.probe_drop.max_queue_m=inf", "windows_min=[1, 5]", "timezone=Europe/Paris",
    ]))  # fmt: skip
    for params in (IncidentWorkerParams(), changed):
        text = to_toml(params)
        assert apply_overrides(IncidentWorkerParams(), tomllib.loads(text)) == params
    assert changed.detector.probe_drop.max_queue_m == float("inf")
    assert changed.timezone == "Europe/Paris"  # a value TOML cannot read is a bare string


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("detector.probe_overdue.min_vehicle=3", "unknown parameter 'detector.probe_overdue"
         ".min_vehicle' (known here: bus_allowance_s"),
        ("detectors.snd.z_threshold=3", "unknown parameter 'detectors'"),
        ("detector.probe_overdue.min_vehicles=2.5", "takes an integer, got 2.5"),
        ("detector.probe_overdue.min_vehicles=true", "takes an integer, got True"),
        ("detector.fusion.overdue=1", "takes true or false, got 1"),
        ("detector.snd.z_threshold=high", "takes a number, got 'high'"),
        ("detector.snd.z_threshold=nan", "takes a number, got nan"),
        ("windows_min=3", "takes an array, got 3"),
        ("windows_min=[1, 2.5]", "windows_min[1] takes an integer"),
        ("detector.snd=3", "detector.snd is a table of parameters"),
        ("detector.snd.z_threshold", "expected section.key=value"),
        ("detector..z=1", "expected section.key=value"),
    ],
)  # fmt: skip
def test_overrides_that_do_not_fit_are_refused_with_their_reason(override, message) -> None:
    with pytest.raises(ParamsError) as err:
        apply_overrides(IncidentWorkerParams(), load_overrides(None, [override]))
    assert message in str(err.value)


def test_unreadable_files_are_refused(tmp_path) -> None:
    with pytest.raises(ParamsError, match="not valid TOML"):
        bad = tmp_path / "bad.toml"
        bad.write_text("[detector\nx = 1\n", encoding="utf-8")
        load_overrides(bad)
    with pytest.raises(ParamsError, match=r"missing\.toml"):
        load_overrides(tmp_path / "missing.toml")
    with pytest.raises(ParamsError, match="a value, not a table"):
        load_overrides(None, ["windows_min=[1]", "windows_min.x=1"])


def test_assignments_read_toml_values() -> None:
    assert parse_assignment("a.b=3") == (["a", "b"], 3)
    assert parse_assignment("a.b = 2.5") == (["a", "b"], 2.5)
    assert parse_assignment("a.b=[1, 2]") == (["a", "b"], [1, 2])
    assert parse_assignment("a.b=false") == (["a", "b"], False)
    assert parse_assignment('a.b="x y"') == (["a", "b"], "x y")


def test_the_worker_reads_the_settings_file_and_the_command_line_wins(tmp_path) -> None:
    path = tmp_path / "incidents.toml"
    path.write_text(FILE, encoding="utf-8")
    settings = Settings(incident_params=path, timezone="Asia/Bangkok", incident_max_wait_s=90.0)
    p = worker_params(settings)
    assert p.detector.probe_overdue.min_vehicles == 3
    assert p.timezone == "Asia/Bangkok" and p.max_wait_s == 90.0
    p = worker_params(settings, sets=["detector.probe_overdue.min_vehicles=2"])
    assert p.detector.probe_overdue.min_vehicles == 2
    plain = worker_params(Settings(incident_params=None))
    assert plain.detector == IncidentWorkerParams().detector


def test_an_overridden_threshold_changes_what_a_method_raises() -> None:
    c, _ = street()
    # two vehicles crawling on segment 2: a queue by default, not when three are required
    x = snap((2, 200.0, 200.0, 0.0, 90.0), (2, 150.0, 150.0, 5.0, 80.0))
    assert len(ProbeOverdue(c).detect(x, REF)) == 1
    p = apply_overrides(IncidentWorkerParams(),
                        load_overrides(None, ["detector.probe_overdue.min_vehicles=3"]))
    assert ProbeOverdue(c, p.detector.probe_overdue).detect(x, np.asarray(REF)) == []


def test_cli_prints_effective_parameters_and_refuses_bad_ones(capsys, monkeypatch) -> None:
    monkeypatch.delenv("ITMS_INCIDENT_PARAMS", raising=False)
    assert main(["incident-params", "--set", "detector.probe_overdue.min_vehicles=3"]) == 0
    out = capsys.readouterr().out
    parsed = tomllib.loads(out)
    assert parsed["detector"]["probe_overdue"]["min_vehicles"] == 3
    assert parsed["tracker"]["confirm_minutes"] == IncidentWorkerParams().tracker.confirm_minutes
    with pytest.raises(SystemExit, match=r"incident parameters: unknown parameter 'detector\.x'"):
        main(["incident-params", "--set", "detector.x=1"])
    with pytest.raises(SystemExit, match="for the incident worker only"):
        main(["worker", "probe", "--set", "detector.snd.z_threshold=3"])


def test_the_evaluation_scores_the_overridden_parameters(capsys, monkeypatch, tmp_path) -> None:
    seen = {}

    def fake_evaluate(network, cfg, **kw):
        seen["cfg"] = cfg
        return [], {"hours": 1.0, "segments": len(network), "units": {}, "wall_s": 0.0}

    monkeypatch.setattr(incident_eval, "evaluate", fake_evaluate)
    monkeypatch.delenv("ITMS_INCIDENT_PARAMS", raising=False)
    path = tmp_path / "incidents.toml"
    path.write_text(FILE, encoding="utf-8")
    assert main(["evaluate", "incidents", "--grid", "4", "--params", str(path),
                 "--set", "detector.snd.z_threshold=4"]) == 0  # fmt: skip
    cfg = seen["cfg"]
    assert cfg.detector.probe_overdue.min_vehicles == 3
    assert cfg.detector.snd.z_threshold == 4.0
    assert cfg.tracker.confirm_minutes == 2
    assert cfg.availability_lag_s == 40.0 and cfg.windows_min == (2, 4)
    assert "parameter detector.snd.z_threshold=4" in capsys.readouterr().out
