"""Stopping a process and everything it started, even what outlived its parent.

`dagster dev` runs a webserver, a daemon and code servers; seen once, after
SIGTERM they kept running, reparented to init and holding port 3000. So the
runner becomes a child subreaper (Linux): orphans of its tree are reparented
to it, where `descendants()` still finds them. Each stop gives the tree a
grace period after SIGTERM, then SIGKILLs its process groups and every
process that is left.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

import psutil

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt the orphans of our descendants (Linux only); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def descendants(pid: int | None = None) -> list[psutil.Process]:
    try:
        return psutil.Process(pid or os.getpid()).children(recursive=True)
    except psutil.Error:
        return []


def _signal(processes: list[psutil.Process], sig: int) -> None:
    groups = set()
    for process in processes:
        try:
            groups.add(os.getpgid(process.pid))
            process.send_signal(sig)
        except (psutil.Error, OSError):
            pass
    for group in groups - {os.getpgrp()}:  # never our own group: we are in it
        try:
            os.killpg(group, sig)
        except OSError:
            pass


def stop_tree(processes: list[psutil.Process], grace: float,
              hurry: threading.Event | None = None) -> None:
    """SIGTERM `processes` (and their process groups), wait up to `grace` seconds (less if
    `hurry` is set, e.g. by a second Ctrl-C), then SIGKILL whatever is left."""
    tree = {p.pid: p for p in processes}
    for process in processes:
        tree.update({d.pid: d for d in descendants(process.pid)})
    _signal(list(tree.values()), signal.SIGTERM)
    waited, step = 0.0, 0.1
    alive = list(tree.values())
    while alive and waited < grace and not (hurry and hurry.is_set()):
        _, alive = psutil.wait_procs(alive, timeout=step)
        waited += step
    if alive:
        _signal(alive, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5)
