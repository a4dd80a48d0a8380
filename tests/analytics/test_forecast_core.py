"""The forecast's inputs, baselines, model file and flags (analytics.forecast)."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from analytics.forecast.baselines import historical_average, persistence
from analytics.forecast.features import FEATURES, ForecastInputs, feature_matrix, latest
from analytics.forecast.forecaster import MODEL, NO_HISTORY, NO_MODEL, OTHER_NETWORK, Forecaster
from analytics.forecast.history import DayProfiles, inputs_at
from analytics.forecast.incident_reach import incident_features
from analytics.forecast.model_file import (
    ForecastModel,
    ModelError,
    ModelMismatch,
    TrainParams,
    network_fingerprint,
)
from analytics.forecast.training import examples, train_model
from tests.analytics.forecast_days_fixture import (
    FREE_FLOW,
    LENGTH,
    N_SEG,
    chain_corridor,
    synthetic_day,
)

TZ = "Asia/Ho_Chi_Minh"
FAST = TrainParams(rounds=60, learning_rate=0.15, num_leaves=8, min_data_in_leaf=20)


def _inputs(recent: np.ndarray, profile: float = 40.0) -> ForecastInputs:
    n = recent.shape[1]
    def prof() -> np.ndarray:
        return np.full(n, profile)

    return ForecastInputs(recent, np.full(n, 50.0), prof(), {h: prof() for h in (15, 30, 60)},
                          np.full(n, np.nan), np.full(n, np.nan))  # fmt: skip


def test_latest_takes_the_newest_value_within_the_age_limit():
    w = np.full((30, 3), np.nan)
    w[-1, 0] = 10.0
    w[-4, 1] = 20.0
    w[-12, 2] = 30.0  # 11 minutes old: older than NOW_MAX_AGE_MIN
    value, age = latest(w)
    assert value[:2].tolist() == [10.0, 20.0] and np.isnan(value[2])
    assert age[:2].tolist() == [0.0, 3.0] and np.isnan(age[2])


def test_baselines_fall_back_when_a_segment_has_no_recent_state_or_no_profile():
    w = np.full((30, 3), np.nan)
    w[-2, 0] = 12.0
    inp = _inputs(w)
    inp.profile_now[2] = np.nan
    inp.profile_at[30][0] = np.nan
    assert persistence(inp).tolist() == [12.0, 40.0, 50.0]  # state, profile, free flow
    assert historical_average(inp, 30).tolist() == [12.0, 40.0, 40.0]


def test_features_read_neighbours_along_the_road_and_incidents_upstream():
    corridor = chain_corridor(5)
    w = np.full((30, 5), 25.0)
    w[:, 3] = 10.0  # segment 3 is slow
    inp = _inputs(w)
    age, down = incident_features(corridor, [(3, 7.0)], 5)
    inp.incident_age_min, inp.incident_down_m = age, down
    x = feature_matrix(inp, 15, corridor.down, corridor.up)
    col = {f: k for k, f in enumerate(FEATURES)}
    assert x.shape == (5, len(FEATURES))
    assert x[2, col["down_r"]] == pytest.approx(0.2)  # its downstream neighbour is slow
    assert x[4, col["up_r"]] == pytest.approx(0.2)
    assert x[3, col["incident_here_min"]] == 7.0 and np.isnan(x[2, col["incident_here_min"]])
    assert x[2, col["incident_down_m"]] == pytest.approx(200.0)  # half of segment 3
    assert x[1, col["incident_down_m"]] == pytest.approx(600.0)
    assert np.isnan(x[4, col["incident_down_m"]])  # downstream of the incident


def test_profiles_leave_the_day_itself_out():
    days = [synthetic_day(k) for k in range(3)]
    for d in days:
        d.observed[:] = 10.0 * (days.index(d) + 1)
    prof = DayProfiles(days, TZ)
    # day 0's profile: harmonic mean of 20 and 30 km/h
    assert prof.profile(0)[24, 0] == pytest.approx(2 / (1 / 20 + 1 / 30))
    assert prof.profile(-1)[24, 0] == pytest.approx(3 / (1 / 10 + 1 / 20 + 1 / 30))


def test_training_targets_are_the_speeds_published_horizon_minutes_later():
    day = synthetic_day(0)
    day.observed[:] = np.arange(day.observed.shape[0], dtype=np.float32)[:, None] + 1.0
    empty = synthetic_day(1)
    empty.observed[:] = np.nan  # publishes nothing: no targets
    ex = examples([day, empty], FREE_FLOW, chain_corridor(), timezone=TZ, horizons=(15,),
                  step_min=30)  # fmt: skip
    x, y = ex[15]
    r_now = x[:, FEATURES.index("r_now")]
    assert len(y) == N_SEG * len(range(29, 180 - 15, 30))
    assert np.allclose(y * 50.0, r_now * 50.0 + 15)


def _trained(days=None):
    days = days or [synthetic_day(k) for k in range(4)]
    fp = network_fingerprint([f"s{i}" for i in range(N_SEG)])
    return train_model(days, FREE_FLOW, chain_corridor(), fingerprint=fp, timezone=TZ,
                       params=FAST, step_min=5), fp  # fmt: skip


def test_the_model_beats_both_baselines_on_an_unseen_day():
    model, fp = _trained()
    corridor = chain_corridor()
    fc = Forecaster(FREE_FLOW, LENGTH, corridor, fingerprint=fp, model=model)
    tz = ZoneInfo(TZ)
    test = synthetic_day(9, seed=1)
    profile = DayProfiles([synthetic_day(k) for k in range(4)], TZ).profile(-1)
    err = {"model": [], "persistence": [], "historical": []}
    for row in range(40, 120, 5):
        out = fc.forecast(inputs_at(test, row, profile, FREE_FLOW, corridor, (15, 30, 60), tz))
        f = out[0]
        truth = test.observed[row + 15]
        ok = np.isfinite(truth)
        err["model"].append(np.abs(f.speed_kmh - truth)[ok])
        err["persistence"].append(np.abs(f.persistence_kmh - truth)[ok])
        err["historical"].append(np.abs(f.historical_kmh - truth)[ok])
        assert (f.basis == MODEL).all()
        assert (f.p10_kmh <= f.speed_kmh + 1e-6).all() and (f.speed_kmh <= f.p90_kmh + 1e-6).all()
    mae = {k: float(np.concatenate(v).mean()) for k, v in err.items()}
    assert mae["model"] < 0.85 * mae["persistence"]
    assert mae["model"] < 0.85 * mae["historical"]


def test_model_file_round_trip_and_refusals(tmp_path):
    model, fp = _trained()
    path = tmp_path / "forecast.json"
    model.save(path)
    again = ForecastModel.load(path, fingerprint=fp)
    x = np.random.default_rng(0).random((7, len(FEATURES))).astype(np.float32)
    assert np.allclose(again.predict(30, x)["p50"], model.predict(30, x)["p50"])
    with pytest.raises(ModelMismatch, match="trained for network"):
        ForecastModel.load(path, fingerprint="another")
    with pytest.raises(ModelError, match="no model file"):
        ForecastModel.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable"):
        ForecastModel.load(tmp_path / "bad.json")
    doc = json.loads(path.read_text())
    doc["horizons"]["15"]["p50"] = "garbage"
    (tmp_path / "damaged.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError):
        ForecastModel.load(tmp_path / "damaged.json")


def test_forecaster_flags_why_it_gives_a_baseline(tmp_path):
    model, fp = _trained()
    path = tmp_path / "forecast.json"
    model.save(path)
    w = np.full((30, N_SEG), 30.0)
    w[:, 5] = np.nan  # segment 5: no recent state ...
    inp = _inputs(w)
    inp.profile_now[5] = np.nan  # ... and no profile: no history at all
    fc = Forecaster(FREE_FLOW, LENGTH, chain_corridor(), fingerprint=fp)
    assert fc.load_model(None) == NO_MODEL
    out = fc.forecast(inp)
    assert (out[0].basis == NO_MODEL).all()
    assert np.allclose(out[1].speed_kmh[:5], 40.0)  # the historical average
    assert fc.load_model(tmp_path / "absent.json") == NO_MODEL
    other = Forecaster(FREE_FLOW, LENGTH, chain_corridor(), fingerprint="another")
    assert other.load_model(path) == OTHER_NETWORK
    assert (other.forecast(inp)[0].basis == OTHER_NETWORK).all()
    assert fc.load_model(path) == MODEL
    out = fc.forecast(inp)
    assert out[0].basis[5] == NO_HISTORY and np.isnan(out[0].p10_kmh[5])
    assert out[0].speed_kmh[5] == pytest.approx(40.0)  # its profile at the target time
    assert (np.delete(out[0].basis, 5) == MODEL).all()
    assert np.allclose(out[0].travel_time_s, LENGTH / out[0].speed_kmh * 3.6)
