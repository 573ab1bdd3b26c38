"""Podcasting 2.0 soundbites ranked by demand, with the fallbacks, and the CLI commands."""

import json
import re
import subprocess
from datetime import UTC, datetime

import pytest

from podclips_dagster.cli import main
from podclips_dagster.core.demand.online.events import COLLECTION as DEMAND_EVENTS_COLLECTION
from podclips_dagster.core.media.probe import probe_media
from podclips_dagster.core.media.soundbites import TITLE_LIMIT, soundbite_title, top_soundbites
from tests.media_fixtures import CHUNKS, EPISODE_ID

# One seeded world for every media test module (imported fixtures would be one per module).
pytest_plugins = ["tests.media_fixtures"]

SOUNDBITE = re.compile(r'^<podcast:soundbite startTime="([\d.]+)" duration="([\d.]+)">'
                       r"([^<]*)</podcast:soundbite>$")


def test_ranked_by_demand_then_existing_clips_then_order(media_world, media_clip):
    events = media_world.db[DEMAND_EVENTS_COLLECTION]
    now = datetime.now(UTC)
    events.delete_many({})
    events.insert_many(
        [{"ts": now, "type": "play", "episode_id": EPISODE_ID, "chunk_index": 3}
         for _ in range(2)]
        + [{"ts": now, "type": "impression", "episode_id": EPISODE_ID, "chunk_index": 2,
            "rank": 1} for _ in range(5)]  # 5 x 0.1 = 0.5 < 2 plays
        + [{"ts": now, "type": "play", "episode_id": "another", "chunk_index": 0}
           for _ in range(9)])
    try:
        bites = top_soundbites(media_world.service, EPISODE_ID, top=4)
    finally:
        events.delete_many({})
    assert [b.chunk_index for b in bites][:2] == [3, 2]
    assert [b.basis for b in bites][:2] == ["demand", "demand"]
    # Then chunk 1, which has a clip (cut for the session), before chunk 0 without one...
    # unless another test cut chunk 0 too: then plain chunk order decides.
    assert [b.chunk_index for b in bites][2:] in ([1, 0], [0, 1])
    clipped = {b.chunk_index: b for b in bites}[1]
    assert clipped.basis == "clip"
    assert clipped.start_time == pytest.approx(media_clip.start_time)
    assert clipped.duration == pytest.approx(media_clip.duration)
    # A chunk without a clip: its start, 30 s, but never past the episode's end (60 s).
    last = {b.chunk_index: b for b in bites}[3]
    assert (last.start_time, last.duration) == (45.0, 15.0)
    assert last.title == "That is all for this week."


def test_xml_lines_escape_and_fit_the_limit():
    assert soundbite_title("One. Two.") == "One."
    long = soundbite_title("word " * 100)
    assert len(long) <= TITLE_LIMIT and long.endswith("…")
    from podclips_dagster.core.media.soundbites import Soundbite

    xml = Soundbite(0, 73.5, 30.0, 'Q&A "live" <now>', 1.0, "demand").to_xml()
    assert xml == ('<podcast:soundbite startTime="73.5" duration="30">'
                   'Q&amp;A "live" &lt;now&gt;</podcast:soundbite>')


def test_cli_soundbites(media_world, monkeypatch, capsys):
    for name, value in media_world.env().items():
        monkeypatch.setenv(name, value)
    assert main(["soundbites", EPISODE_ID, "--top", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(SOUNDBITE.match(line) for line in lines)
    assert main(["soundbites", EPISODE_ID, "--json", "--top", "9"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["soundbites"]) == len(CHUNKS)
    assert main(["soundbites", "no-such-episode"]) == 2
    assert "not in the catalogue" in capsys.readouterr().err


def test_cli_video_writes_a_playable_mp4(media_world, monkeypatch, capsys, tmp_path):
    for name, value in media_world.env().items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "clip.mp4"
    assert main(["video", EPISODE_ID, "1", "--output", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["size"] == "1080x1080" and printed["output"] == str(out)
    ffmpeg = media_world.service.ffmpeg
    info = probe_media(out, ffmpeg)
    assert info.video_codecs == ("h264",) and info.audio_codecs == ("aac",)
    assert subprocess.run([ffmpeg, "-v", "error", "-i", str(out), "-t", "2", "-f", "null", "-"],
                          capture_output=True).returncode == 0
    assert main(["video", EPISODE_ID, "99"]) == 2
    assert "has no chunk 99" in capsys.readouterr().err
