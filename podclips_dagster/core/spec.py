"""What a clip is, and the names it goes by (partition key, object key).

A partition key is `{episode_id}/{chunk_index}` for the default 30 s clip and
`{episode_id}/{chunk_index}/{duration}s` for the other durations, with the
episode id escaped so that Dagster's reserved sequences (`...`, `,`, `|`,
`[`, `]`, control characters) never appear. Episode ids may hold `/`; the
key still parses because it is split from the right and the chunk index is
always an integer.
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import NamedTuple

from podclips_dagster.core.errors import InvalidClipRequest, InvalidDuration, InvalidPartitionKey

ALLOWED_DURATIONS = (15, 30, 60)
DEFAULT_DURATION = 30
MAX_EPISODE_ID_LENGTH = 256
MAX_CHUNK_INDEX = 1_000_000

_KEY_RESERVED = set(",|[]%")
_OBJECT_SAFE = set(string.ascii_letters + string.digits + "-_.")
_DURATION_SEGMENT = re.compile(r"^(\d+)s$")


def _escape_for_partition(episode_id: str) -> str:
    out = []
    for i, ch in enumerate(episode_id):
        dotted_run = ch == "." and (
            episode_id[i - 1 : i] == "." or episode_id[i + 1 : i + 2] == "."
        )
        if ch in _KEY_RESERVED or dotted_run or unicodedata.category(ch).startswith("C"):
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    return "".join(out)


def _unescape_percent(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text, errors="strict")


def validate_episode_id(episode_id: object) -> str:
    if not isinstance(episode_id, str) or not episode_id.strip():
        raise InvalidClipRequest("episode_id must be a non-empty string")
    if len(episode_id) > MAX_EPISODE_ID_LENGTH:
        raise InvalidClipRequest(
            f"episode_id is {len(episode_id)} characters long; the limit is {MAX_EPISODE_ID_LENGTH}"
        )
    if any(unicodedata.category(ch).startswith("C") for ch in episode_id):
        raise InvalidClipRequest("episode_id must not contain control characters")
    return episode_id


def validate_chunk_index(chunk_index: object) -> int:
    if isinstance(chunk_index, bool) or not isinstance(chunk_index, int):
        raise InvalidClipRequest(f"chunk_index must be an integer, got {chunk_index!r}")
    if not 0 <= chunk_index <= MAX_CHUNK_INDEX:
        raise InvalidClipRequest(f"chunk_index must be between 0 and {MAX_CHUNK_INDEX}")
    return chunk_index


def validate_duration(duration: object) -> int:
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise InvalidDuration(f"duration must be one of {ALLOWED_DURATIONS} seconds")
    if duration not in ALLOWED_DURATIONS:
        raise InvalidDuration(
            f"duration {duration} s is not offered; choose one of {ALLOWED_DURATIONS}"
        )
    return duration


def object_safe_episode_id(episode_id: str) -> str:
    """Episode id as one S3 key segment: unsafe characters become `~XX` (reversible)."""
    # A leading dot is escaped too, so "." and ".." never become path segments.
    return "".join(
        ch
        if ch in _OBJECT_SAFE and not (i == 0 and ch == ".")
        else "".join(f"~{b:02X}" for b in ch.encode("utf-8"))
        for i, ch in enumerate(episode_id)
    )


class _ClipFields(NamedTuple):
    episode_id: str
    chunk_index: int
    duration_seconds: int = DEFAULT_DURATION


class ClipSpec(_ClipFields):
    """One clip: an episode's chunk, cut for a duration.

    A tuple, so the demand code's sets and frames compare it with plain
    (episode_id, chunk_index, duration_seconds) tuples; validated when made.
    """

    __slots__ = ()

    def __new__(cls, episode_id: str, chunk_index: int,
                duration_seconds: int = DEFAULT_DURATION) -> ClipSpec:
        validate_episode_id(episode_id)
        validate_chunk_index(chunk_index)
        validate_duration(duration_seconds)
        return super().__new__(cls, episode_id, chunk_index, duration_seconds)

    @property
    def partition_key(self) -> str:
        key = f"{_escape_for_partition(self.episode_id)}/{self.chunk_index}"
        if self.duration_seconds != DEFAULT_DURATION:
            key += f"/{self.duration_seconds}s"
        return key

    @property
    def object_key(self) -> str:
        suffix = "" if self.duration_seconds == DEFAULT_DURATION else f"_{self.duration_seconds}s"
        episode = object_safe_episode_id(self.episode_id)
        return f"audio_clips/{episode}/{self.chunk_index}{suffix}.mp3"

    @classmethod
    def from_partition_key(cls, key: str) -> ClipSpec:
        parts = key.split("/")
        duration = DEFAULT_DURATION
        if len(parts) >= 3 and (m := _DURATION_SEGMENT.match(parts[-1])):
            duration = int(m.group(1))
            parts = parts[:-1]
        if len(parts) < 2 or not parts[-1].isdigit() or not parts[-1].isascii():
            raise InvalidPartitionKey(
                f"partition key {key!r} is not of the form EPISODE_ID/CHUNK_INDEX[/DURATIONs]"
            )
        try:
            episode_id = _unescape_percent("/".join(parts[:-1]))
        except UnicodeDecodeError:
            raise InvalidPartitionKey(f"partition key {key!r} has a broken escape") from None
        spec = cls(episode_id, int(parts[-1]), duration)
        # Only the canonical spelling is a key: one clip, one partition.
        if spec.partition_key != key:
            raise InvalidPartitionKey(f"partition key {key!r} is not in canonical form "
                                      f"(expected {spec.partition_key!r})")
        return spec

    def describe(self) -> str:
        return (f"chunk {self.chunk_index} of episode {self.episode_id!r} "
                f"({self.duration_seconds} s)")


def episode_partition_key(episode_id: str) -> str:
    """An episode as a partition key: its id escaped as in clip keys (reversible)."""
    return _escape_for_partition(validate_episode_id(episode_id))


def episode_id_from_partition_key(key: str) -> str:
    try:
        episode_id = _unescape_percent(key)
    except UnicodeDecodeError:
        raise InvalidPartitionKey(f"partition key {key!r} has a broken escape") from None
    if episode_partition_key(episode_id) != key:
        raise InvalidPartitionKey(f"partition key {key!r} is not in canonical form "
                                  f"(expected {episode_partition_key(episode_id)!r})")
    return episode_id
