"""A request checked against the catalogue once, at the door: the clip it names.

Every door turns its input (an episode id and a chunk index, or a time into
the episode) into a `ResolvedClip` here, and passes that on: the service cuts
and the request store records it without asking the catalogue again.
"""

from __future__ import annotations

from dataclasses import dataclass

from podclips_dagster.core.errors import ChunkOutOfRange
from podclips_dagster.core.spec import ClipSpec, validate_duration, validate_episode_id
from podclips_dagster.core.stores.catalogue import Catalogue, Chunk, Episode

# Chunk start times are floats; the dashboard sends them rounded to the millisecond.
_HALF_MS = 0.0005


@dataclass(frozen=True)
class ResolvedClip:
    """A clip of a chunk that exists; the spec names the episode by its guid."""

    spec: ClipSpec
    episode: Episode
    chunk: Chunk


def resolve(catalogue: Catalogue, episode_id, chunk_index, duration=30) -> ResolvedClip:
    ClipSpec(episode_id, chunk_index, duration)  # shape checks before any query
    episode = catalogue.episode(episode_id)
    chunk = catalogue.chunk(episode, chunk_index)
    return ResolvedClip(ClipSpec(episode.guid, chunk_index, duration), episode, chunk)


def resolve_at(catalogue: Catalogue, episode_id, time_s: float, duration=30) -> ResolvedClip:
    """The clip of the chunk that contains `time_s` (within half a millisecond)."""
    validate_episode_id(episode_id)
    validate_duration(duration)
    episode = catalogue.episode(episode_id)
    chunk = catalogue.chunk_at(episode, time_s + _HALF_MS)
    end = chunk.end_time if chunk.end_time is not None else episode.duration
    if end is not None and time_s >= end:
        raise ChunkOutOfRange(f"episode {episode.guid!r} has no chunk at {time_s:.3f} s "
                              f"(chunk {chunk.chunk_index} ends at {end:.3f} s)")
    return ResolvedClip(ClipSpec(episode.guid, chunk.chunk_index, duration), episode, chunk)
