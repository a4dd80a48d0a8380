"""``itms forecast train``: train the forecast model from the stored history."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from itms.cli._common import NETWORK_HELP, current_settings, log, network_from


def cmd_forecast_train(args: argparse.Namespace) -> int:
    import numpy as np
    import psycopg

    from analytics.forecast.history import HistoryDay
    from analytics.forecast.model_file import TrainParams, network_fingerprint
    from analytics.forecast.training import train_model
    from analytics.incidents.corridor import Corridor
    from analytics.workers.forecast_worker import BLOCKING_KINDS
    from roadnet import model as m
    from store.forecasts import blocking_incidents_between, read_states

    settings = current_settings()
    network = network_from(args.network)
    ids = network.segments[m.SEGMENT_ID].astype(str).tolist()
    index = {s: i for i, s in enumerate(ids)}
    tz = ZoneInfo(settings.timezone)
    until = args.until or datetime.now(UTC)
    today = until.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    days: list[HistoryDay] = []
    t0 = time.perf_counter()
    with psycopg.connect(settings.dsn) as conn:
        for d in range(args.days, -1, -1):
            start = (today - timedelta(days=d)).astimezone(UTC)
            minutes = min(1440, int((until - start) / timedelta(minutes=1)))
            if minutes <= 60:
                continue
            obs = read_states(conn, start, minutes, index)
            if np.isfinite(obs).sum() < args.min_states:
                continue
            incs = [(index[s], int((a - start) / timedelta(minutes=1)),
                     int((b - start) / timedelta(minutes=1)))
                    for s, a, b in blocking_incidents_between(
                        conn, start, start + timedelta(minutes=minutes), BLOCKING_KINDS)
                    if s in index]  # fmt: skip
            days.append(HistoryDay(start, obs, incs))
    if len(days) < 2:
        print(f"itms forecast train: {len(days)} day(s) with at least {args.min_states} stored"
              f" segment states in the last {args.days} days; at least 2 are needed (the"
              " worker forecasts the baselines until then)")  # fmt: skip
        return 1
    seg = network.segments
    model = train_model(days, seg[m.FREE_FLOW].to_numpy(float), Corridor.for_network(network),
                        fingerprint=network_fingerprint(ids), timezone=settings.timezone,
                        step_min=args.step, params=TrainParams(rounds=args.rounds),
                        meta={"trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
                              "network": str(network.source)})  # fmt: skip
    out = args.out or settings.forecast_model_path
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    log.info("forecast model trained on %d days in %.0f s: %s", len(days),
             time.perf_counter() - t0, model.meta.get("examples"))  # fmt: skip
    print(f"wrote {out} ({len(days)} days, {model.meta.get('examples')} examples per horizon)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms forecast`` to the parser."""
    from pathlib import Path

    s = sub.add_parser("forecast", help="short-term speed forecasts: train the model")
    fsub = s.add_subparsers(dest="forecast_cmd", required=True)
    t = fsub.add_parser("train", help="train the forecast model from the stored segment states"
                        " (written where the forecast worker reloads it)")  # fmt: skip
    t.add_argument("--network", help=NETWORK_HELP)
    t.add_argument("--days", type=int, default=14, help="days of history to train on (14)")
    t.add_argument("--until", type=datetime.fromisoformat,
                   help="train on the history up to this time (ISO, default now)")
    t.add_argument("--out", type=Path, help="model file (default ITMS_FORECAST_MODEL)")
    t.add_argument("--step", type=int, default=5, help="minutes between training issue times")
    t.add_argument("--rounds", type=int, default=300, help="boosting rounds per model (300)")
    t.add_argument("--min-states", type=int, default=1000,
                   help="days with fewer stored segment states are skipped")
    t.set_defaults(func=cmd_forecast_train)
