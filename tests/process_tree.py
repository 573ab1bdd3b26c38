"""The processes below a pid, through psutil, for tests that must prove none is left."""

from __future__ import annotations

import psutil


def _names(processes) -> dict[int, str]:
    """{pid: command name} of the live ones (a zombie holds nothing; a gone one neither)."""
    found = {}
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                found[process.pid] = process.name()
        except psutil.NoSuchProcess:
            pass
    return found


def _below(pid: int, recursive: bool) -> dict[int, str]:
    try:
        return _names(psutil.Process(pid).children(recursive=recursive))
    except psutil.NoSuchProcess:
        return {}


def children(pid: int) -> dict[int, str]:
    """Every live process whose parent is `pid`: {pid: command name}."""
    return _below(pid, recursive=False)


def descendants(pid: int) -> dict[int, str]:
    return _below(pid, recursive=True)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def environment(pid: int) -> dict[str, str]:
    return psutil.Process(pid).environ()
