"""A clip's transcript: words timed proportionally inside chunks, cut to the clip, as WebVTT."""

import re

import pytest

from podclips_dagster.core.media.transcript import (
    MAX_CUE_CHARS,
    PROPORTIONAL,
    clip_transcript,
    vtt_time,
)
from podclips_dagster.core.stores.catalogue import Chunk


def chunk(i, start, end, text):
    return Chunk("ep", i, start, end, text)


def words_of(transcript):
    return [w for cue in transcript.cues for w in cue.words]


def test_words_share_their_chunk_in_proportion_to_length():
    t = clip_transcript([chunk(0, 10.0, 20.0, "a bbbbbbbbb")], clip_start=10.0, clip_duration=30)
    a, b = words_of(t)
    # weights 2 and 10 (length + 1) over 10 s
    assert (a.start, a.end) == pytest.approx((0.0, 10 * 2 / 12))
    assert (b.start, b.end) == pytest.approx((10 * 2 / 12, 10.0))
    assert t.timing == PROPORTIONAL == "proportional"


def test_only_words_inside_the_window_relative_to_the_clip():
    chunks = [chunk(0, 0.0, 10.0, "one two three four five"),
              chunk(1, 10.0, 20.0, "six seven eight nine ten"),
              chunk(2, 20.0, 30.0, "eleven twelve")]
    t = clip_transcript(chunks, clip_start=10.0, clip_duration=10.0)
    assert [w.text for w in words_of(t)] == ["six", "seven", "eight", "nine", "ten"]
    assert words_of(t)[0].start == pytest.approx(0.0)
    assert words_of(t)[-1].end == pytest.approx(10.0)
    # A window starting mid-chunk keeps the words whose middle is inside it, clamped to 0.
    t = clip_transcript(chunks, clip_start=5.0, clip_duration=10.0)
    texts = [w.text for w in words_of(t)]
    assert texts[0] in ("three", "four") and texts[-1] in ("seven", "eight")
    assert all(0.0 <= w.start <= w.end <= 10.0 for w in words_of(t))


def test_chunk_without_end_runs_to_the_next_chunk_or_at_speaking_pace():
    chunks = [chunk(0, 0.0, None, "alpha beta"), chunk(1, 4.0, None, "gamma delta epsilon zeta")]
    t = clip_transcript(chunks, clip_start=0.0, clip_duration=30.0)
    words = words_of(t)
    assert words[1].end == pytest.approx(4.0)  # up to the next chunk's start
    assert words[-1].end == pytest.approx(4.0 + 4 / 2.5)  # 4 words at 2.5 words/s


def test_cues_are_caption_sized_and_break_after_sentences():
    text = "This is short. " + " ".join(["word"] * 40)
    t = clip_transcript([chunk(0, 0.0, 30.0, text)], 0.0, 30.0)
    assert t.cues[0].text == "This is short."
    assert all(len(c.text) <= MAX_CUE_CHARS for c in t.cues)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(t.cues, t.cues[1:], strict=False))


def test_webvtt_says_timing_is_proportional_and_escapes_text():
    t = clip_transcript([chunk(0, 0.0, 3.0, "Q&A <live> --> now")], 0.0, 30.0)
    vtt = t.to_vtt()
    assert vtt.startswith("WEBVTT\n\nNOTE\nWord timing: proportional.")
    assert "Q&amp;A &lt;live&gt; --&gt; now" in vtt
    cue_lines = re.findall(r"^(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})$", vtt, re.M)
    assert cue_lines == [("00:00:00.000", "00:00:03.000")]


def test_vtt_time_format():
    assert vtt_time(0) == "00:00:00.000"
    assert vtt_time(3723.4567) == "01:02:03.457"


def test_no_chunks_in_the_window_is_an_empty_transcript():
    t = clip_transcript([chunk(0, 100.0, 110.0, "later")], 0.0, 30.0)
    assert t.cues == () and t.excerpt() == ""
    assert t.to_vtt().count("-->") == 0
