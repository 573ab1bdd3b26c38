"""The words of a clip, timed relative to the clip, as WebVTT cues.

The catalogue times whole chunks (start_time, end_time), not words. A
chunk's span is spread across its words in proportion to their length
(characters, plus one for the pause after each), which tracks speech far
better than equal shares for "a" and "infrastructure". The result says so:
`timing` is "proportional" (recorded on the clip's document as
`share.transcript_timing`) and the WebVTT carries a NOTE saying how.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from podclips_dagster.core.stores.catalogue import Chunk

PROPORTIONAL = "proportional"
WORDS_PER_SECOND = 2.5  # ~150 wpm: the span of a last chunk that has no end time
MAX_CUE_CHARS = 42  # one caption line at broadcast width
MAX_CUE_SECONDS = 4.0
_SENTENCE_END = (".", "?", "!", "…")
_TIMING_NOTE = ("NOTE\nWord timing: proportional. The transcript is timed per chunk only; "
                "each chunk's span is spread across its words in proportion to their length.")


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(frozen=True)
class ClipTranscript:
    cues: tuple[Cue, ...]
    duration: float
    timing: str = PROPORTIONAL

    def to_vtt(self) -> str:
        blocks = ["WEBVTT"]
        if self.timing == PROPORTIONAL:
            blocks.append(_TIMING_NOTE)
        for n, cue in enumerate(self.cues, 1):
            blocks.append(f"{n}\n{vtt_time(cue.start)} --> {vtt_time(cue.end)}\n"
                          f"{_escape(cue.text)}")
        return "\n\n".join(blocks) + "\n"

    def excerpt(self, limit: int = 200) -> str:
        text = " ".join(c.text for c in self.cues)
        return text if len(text) <= limit else text[:limit - 1].rsplit(" ", 1)[0] + "…"


def vtt_time(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _chunk_words(chunk: Chunk, end: float) -> list[Word]:
    """The chunk's words with times spread over [start, end] by length."""
    tokens = chunk.text.split()
    if not tokens:
        return []
    weights = [len(t) + 1 for t in tokens]
    span = max(end - chunk.start_time, 0.0) / sum(weights)
    words, t = [], chunk.start_time
    for token, weight in zip(tokens, weights, strict=False):
        words.append(Word(t, t + weight * span, token))
        t += weight * span
    return words


def _chunk_end(chunks: Sequence[Chunk], i: int, episode_duration: float | None) -> float:
    chunk = chunks[i]
    if chunk.end_time is not None and chunk.end_time > chunk.start_time:
        return chunk.end_time
    if i + 1 < len(chunks):
        return chunks[i + 1].start_time
    guess = chunk.start_time + len(chunk.text.split()) / WORDS_PER_SECOND
    return min(guess, episode_duration) if episode_duration else guess


def clip_transcript(chunks: Sequence[Chunk], clip_start: float, clip_duration: float,
                    episode_duration: float | None = None) -> ClipTranscript:
    """Cues of the words whose middle falls inside [clip_start, clip_start + clip_duration)."""
    chunks = sorted(chunks, key=lambda c: c.start_time)
    clip_end = clip_start + clip_duration
    cues: list[Cue] = []
    for i, chunk in enumerate(chunks):
        end = _chunk_end(chunks, i, episode_duration)
        if end <= clip_start or chunk.start_time >= clip_end:
            continue
        inside = [Word(max(w.start - clip_start, 0.0), min(w.end - clip_start, clip_duration),
                       w.text)
                  for w in _chunk_words(chunk, end)
                  if clip_start <= (w.start + w.end) / 2 < clip_end]
        cues.extend(_group(inside))
    return ClipTranscript(tuple(cues), clip_duration)


def _group(words: list[Word]) -> list[Cue]:
    """Caption-sized cues: a line's worth of text, a few seconds, broken after sentences."""
    cues: list[Cue] = []
    current: list[Word] = []
    for word in words:
        if current:
            chars = sum(len(w.text) + 1 for w in current) + len(word.text)
            if (chars > MAX_CUE_CHARS or word.end - current[0].start > MAX_CUE_SECONDS
                    or current[-1].text.endswith(_SENTENCE_END)):
                cues.append(Cue(current[0].start, current[-1].end, tuple(current)))
                current = []
        current.append(word)
    if current:
        cues.append(Cue(current[0].start, current[-1].end, tuple(current)))
    return cues
