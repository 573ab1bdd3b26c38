"""`podclips-daemon`: `dagster-daemon` that picks up backfills in seconds, not half a minute.

Dagster's backfill daemon sleeps a fixed 30 s between iterations
(`DEFAULT_DAEMON_INTERVAL_SECONDS`, not configurable: dagster-io/dagster#11649), so
a backfill launched from the UI waits up to 30 s before its first run is planned,
and is marked done up to 30 s after its last run ends. For a 200-clip backfill
that wait was as long as the cutting (benchmarks/backfill_throughput.py).

This entry point sets that interval to BACKFILL_DAEMON_INTERVAL_SECONDS (default
5) and then is `dagster-daemon`: same commands (`run`, `liveness-check`, `wipe`,
`debug`) and options. An idle iteration is two small queries. The asset daemon
reads the same constant for how often it looks for due automation sensors (each
sensor keeps its own minimum interval).
"""

from __future__ import annotations

import sys

import dagster._daemon.controller as daemon_controller
from dagster._daemon.cli import create_dagster_daemon_cli

from podclips_dagster.config import Settings


def use_backfill_interval(seconds: float) -> None:
    # Read by the backfill loop when it starts (dagster/_daemon/backfill.py), so setting it
    # before the daemon starts is enough; tests/test_daemon.py fails if Dagster moves it.
    if not hasattr(daemon_controller, "DEFAULT_DAEMON_INTERVAL_SECONDS"):
        raise RuntimeError("this Dagster has no DEFAULT_DAEMON_INTERVAL_SECONDS; "
                           "podclips-daemon needs updating for it")
    daemon_controller.DEFAULT_DAEMON_INTERVAL_SECONDS = seconds


def main() -> None:
    try:
        seconds = Settings.from_env().backfill_daemon_interval_seconds
    except ValueError as error:
        print(f"podclips-daemon: {error}", file=sys.stderr)
        sys.exit(2)
    use_backfill_interval(seconds)
    cli = create_dagster_daemon_cli()
    cli.help = (f"dagster-daemon, looking at backfills every {seconds:g} s instead of 30 s "
                "(BACKFILL_DAEMON_INTERVAL_SECONDS). Same commands and options.")
    cli(obj={}, prog_name="podclips-daemon")


if __name__ == "__main__":
    main()
