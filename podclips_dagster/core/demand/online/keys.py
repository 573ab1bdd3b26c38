"""How the demand code names a clip (no pandas: the sidecar's pre-cut imports it)."""

from __future__ import annotations

from typing import NamedTuple


class ClipKey(NamedTuple):
    """A clip as the demand code names it; equal to a plain (id, index, duration) tuple."""

    episode_id: str
    chunk_index: int
    duration_seconds: int = 30
