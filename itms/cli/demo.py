"""``itms demo``: the demo: stack, simulated Hai Phong feeds, workers and API."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from itms.cli._common import NETWORK_HELP, current_settings, stop_event


def cmd_demo(args: argparse.Namespace) -> int:
    from itms import stack

    settings = current_settings()
    print("starting the local stack (first run downloads Kafka; a few minutes)...", flush=True)
    stack.up(settings)
    env = dict(os.environ)
    exe = [sys.executable, "-m", "itms.cli"]
    net = ["--network", args.network] if args.network else []

    def metrics(k: int) -> list[str]:  # the workers' /metrics next to the API's port
        return ["--metrics-port", str(settings.api_port + 1100 + k)]

    procs = [
        subprocess.Popen([*exe, "worker", "probe", *net, *metrics(1)], env=env),
        subprocess.Popen([*exe, "worker", "detectors", *metrics(2)], env=env),
        subprocess.Popen([*exe, "worker", "state", *net, *metrics(3)], env=env),
        subprocess.Popen([*exe, "worker", "incidents", *net], env=env),
        # forecasts: baselines, flagged, until `itms forecast train` has two days to learn from
        subprocess.Popen([*exe, "worker", "forecast", *net, *metrics(4)], env=env),
        subprocess.Popen([*exe, "api"], env=env),
    ]
    api = f"http://{settings.api_host}:{settings.api_port}"
    print(
        f"\nITMS demo running.\n  Dashboard:      {api}/\n  API docs:       {api}/docs\n"
        f"  Segment speeds: {api}/v1/segments/current\n"
        f"  Worker metrics: http://127.0.0.1:{settings.api_port + 1101}..{settings.api_port + 1104}"
        "/metrics (probe, detectors, state, forecast)\nPress Ctrl-C to stop.\n",
        flush=True,
    )
    sim = [
        *exe,
        "simulate",
        *net,
        "--vehicles",
        str(args.vehicles),
        "--speedup",
        "1",
        "--duration",
        str(int(args.duration or 365 * 86400)),
        "--register-detectors",
    ]
    procs.append(subprocess.Popen(sim, env=env))
    stop = stop_event()
    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        while not stop.is_set():
            if deadline and time.monotonic() >= deadline:
                break
            if any(p.poll() not in (None, 0) for p in procs):
                print("a demo process failed; stopping", file=sys.stderr)
                return 1
            stop.wait(1.0)
        time.sleep(3.0 if deadline else 0)  # let the worker store the last fixes
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        if args.stop_stack:
            stack.down(settings)
    print("demo stopped")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms demo`` to the parser."""
    s = sub.add_parser("demo", help="stack + simulated Hai Phong feed + worker + API")
    s.add_argument("--duration", type=float, help="stop after this many seconds")
    s.add_argument("--vehicles", type=int, default=800)
    s.add_argument("--network", help=NETWORK_HELP)
    s.add_argument("--stop-stack", action="store_true", help="stop Kafka and PostgreSQL at the end")
    s.set_defaults(func=cmd_demo)
