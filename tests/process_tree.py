"""The processes below a pid, read from /proc (Linux), for tests that must prove none is left."""

from __future__ import annotations

import os
from pathlib import Path


def _stat(pid: int) -> tuple[str, int] | None:
    """(command name, parent pid) of `pid`, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    name = raw[raw.index("(") + 1:raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None  # a zombie holds nothing
    return name, int(fields[1])


def children(pid: int) -> dict[int, str]:
    """Every live process whose parent is `pid`: {pid: command name}."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) and stat[1] == pid:
            found[int(entry)] = stat[0]
    return found


def descendants(pid: int) -> dict[int, str]:
    found, todo = {}, [pid]
    while todo:
        for child, name in children(todo.pop()).items():
            if child not in found:
                found[child] = name
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    return _stat(pid) is not None


def environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode("utf-8", "replace").split("\0")
                if "=" in item)
