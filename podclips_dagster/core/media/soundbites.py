"""Podcasting 2.0 soundbites for an episode's best clips, for publishers' RSS feeds.

`<podcast:soundbite startTime="73.5" duration="30.0">Title</podcast:soundbite>`
(startTime and duration in seconds, the title at most 128 characters).
Chunks are ranked by demand where MongoDB `clip_demand_events` knows any:
plays and clip requests count 1 each (someone wanted that audio), an
impression 0.1 / rank (shown in search, maybe not wanted). Ties, and
episodes nobody has searched yet, fall back to chunks that already have a
clip, then to chunk order.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from podclips_dagster.core.demand.online.events import events_of_episodes
from podclips_dagster.core.spec import DEFAULT_DURATION, validate_episode_id

if TYPE_CHECKING:
    from podclips_dagster.core.service import ClipService

PLAY_WEIGHT = 1.0
IMPRESSION_WEIGHT = 0.1
TITLE_LIMIT = 128  # the Podcasting 2.0 namespace's limit for the node value
MAX_EVENTS = 200_000  # an episode's events beyond this add nothing to a top-N ranking


@dataclass(frozen=True)
class Soundbite:
    chunk_index: int
    start_time: float
    duration: float
    title: str
    score: float
    basis: str  # "demand" | "clip" | "order": why it ranked where it did

    def to_xml(self) -> str:
        return (f"<podcast:soundbite startTime={quoteattr(_seconds(self.start_time))} "
                f"duration={quoteattr(_seconds(self.duration))}>{escape(self.title)}"
                f"</podcast:soundbite>")

    def to_dict(self) -> dict:
        return {"chunk_index": self.chunk_index, "start_time": self.start_time,
                "duration": self.duration, "title": self.title, "score": round(self.score, 4),
                "basis": self.basis, "xml": self.to_xml()}


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def soundbite_title(text: str, limit: int = TITLE_LIMIT) -> str:
    """The chunk's opening sentence, cut at a word to fit the limit."""
    text = " ".join(text.split())
    for end in (". ", "? ", "! "):
        if (i := text.find(end)) != -1 and i < limit:
            text = text[:i + 1]
    if len(text) <= limit:
        return text
    return text[:limit - 1].rsplit(" ", 1)[0] + "…"


def demand_scores(db, episode_ids: list[str]) -> dict[int, float]:
    """chunk_index -> demand score from the episode's demand events."""
    scores: dict[int, float] = defaultdict(float)
    for event in events_of_episodes(db, episode_ids, ("type", "chunk_index", "rank"),
                                    MAX_EVENTS):
        chunk = event.get("chunk_index")
        if not isinstance(chunk, int):
            continue
        if event.get("type") in ("play", "request"):
            scores[chunk] += PLAY_WEIGHT
        elif event.get("type") == "impression":
            rank = event.get("rank")
            scores[chunk] += IMPRESSION_WEIGHT / (rank if isinstance(rank, int) and rank > 0
                                                  else 1)
    return dict(scores)


def clipped_chunks(records, episode_id: str) -> dict[int, dict]:
    """chunk_index -> the episode's existing clip record (the longest, when several)."""
    found: dict[int, dict] = {}
    for doc in records.of_episode(episode_id,
                                  ("chunk_index", "start_time", "clip_duration_seconds")):
        best = found.get(doc["chunk_index"])
        if best is None or doc.get("clip_duration_seconds", 0) > best.get(
                "clip_duration_seconds", 0):
            found[doc["chunk_index"]] = doc
    return found


def top_soundbites(service: ClipService, episode_id: str, top: int = 5,
                   duration: float = DEFAULT_DURATION) -> list[Soundbite]:
    """The episode's `top` soundbites, best first."""
    episode = service.catalogue.episode(validate_episode_id(episode_id))
    chunks = service.catalogue.chunks_of(episode.guid)
    scores = demand_scores(service.db, list(dict.fromkeys([episode.guid, episode_id])))
    clips = clipped_chunks(service.records, episode.guid)
    ranked = sorted(chunks, key=lambda c: (-scores.get(c.chunk_index, 0.0),
                                           c.chunk_index not in clips, c.chunk_index))
    bites = []
    for chunk in ranked[:max(top, 0)]:
        clip = clips.get(chunk.chunk_index)
        if clip and "start_time" in clip:  # the exact window listeners already hear
            start, length = clip["start_time"], clip.get("clip_duration_seconds", duration)
        else:
            start, length = chunk.start_time, duration
            if episode.duration:
                length = max(0.0, min(length, episode.duration - start))
        score = scores.get(chunk.chunk_index, 0.0)
        basis = "demand" if score > 0 else "clip" if clip else "order"
        bites.append(Soundbite(chunk.chunk_index, round(start, 3), round(length, 3),
                               soundbite_title(chunk.text) or episode.title or "", score, basis))
    return bites
