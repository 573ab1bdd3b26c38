"""`podclips-daemon` is dagster-daemon whose backfill loop sleeps BACKFILL_DAEMON_INTERVAL_SECONDS,
not Dagster's fixed 30 s; a bad value stops it with the reason."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

# Internal on purpose: the loop's sleep is what podclips-daemon changes, and these are the
# names it relies on; a Dagster upgrade that moves them fails here, not silently in production.
import dagster as dg
import dagster._daemon.controller as daemon_controller
import pytest
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import EmptyWorkspaceTarget
from dagster._daemon.backfill import execute_backfill_iteration_loop

from podclips_dagster.daemon import use_backfill_interval

PODCLIPS_DAEMON = str(Path(sys.executable).with_name("podclips-daemon"))


class SleepRecorder(threading.Event):
    """The loop's shutdown event: records how long the loop asks to sleep, then stops it."""

    def __init__(self):
        super().__init__()
        self.sleeps: list[float] = []

    def wait(self, timeout=None):
        self.sleeps.append(timeout)
        self.set()
        return True


def _first_sleep(instance) -> float:
    recorder = SleepRecorder()
    with WorkspaceProcessContext(instance, EmptyWorkspaceTarget()) as workspace:
        loop = execute_backfill_iteration_loop(workspace, logging.getLogger("test"), recorder)
        while not recorder.sleeps:
            next(loop)
        loop.close()
    return recorder.sleeps[0]


@pytest.fixture
def restore_interval():
    saved = daemon_controller.DEFAULT_DAEMON_INTERVAL_SECONDS
    yield
    daemon_controller.DEFAULT_DAEMON_INTERVAL_SECONDS = saved


def test_the_backfill_loop_sleeps_podclips_interval_instead_of_dagsters(restore_interval):
    with dg.instance_for_test() as instance:
        assert 25 < _first_sleep(instance) <= 30  # Dagster's own: why podclips-daemon exists
        use_backfill_interval(3)
        assert 0 < _first_sleep(instance) <= 3


def test_podclips_daemon_is_dagster_daemon_and_refuses_a_busy_loop(tmp_path):
    helped = subprocess.run([PODCLIPS_DAEMON, "--help"], capture_output=True, text=True,
                            timeout=120)
    assert helped.returncode == 0
    assert "every 5 s instead of 30 s" in helped.stdout
    for command in ("run", "liveness-check", "wipe", "debug"):
        assert command in helped.stdout
    refused = subprocess.run([PODCLIPS_DAEMON, "run"], capture_output=True, text=True,
                             timeout=120, env={"BACKFILL_DAEMON_INTERVAL_SECONDS": "0.1",
                                               "DAGSTER_HOME": str(tmp_path)})
    assert refused.returncode == 2
    assert refused.stderr.strip() == ("podclips-daemon: BACKFILL_DAEMON_INTERVAL_SECONDS must "
                                      "be at least 1, got 0.1")
