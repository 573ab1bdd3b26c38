"""Share pages: the global daily cap on anonymous cuts, and what a view reads."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pymongo

from podclips_dagster.core.media.share_assets import transcript_for
from podclips_dagster.core.media.transcript import clip_transcript
from podclips_dagster.core.service import ClipService
from podclips_dagster.core.spec import ClipSpec
from tests.api_fixtures import CBR_GUID
from tests.mongo_commands import CommandLog

# One seeded catalogue for every sidecar test module (imported fixtures would be one per module).
pytest_plugins = ["tests.api_fixtures"]


def _page(url: str, chunk: int) -> httpx.Response:
    return httpx.get(f"{url}/clips/{quote(CBR_GUID, safe='')}/{chunk}", timeout=60)


def test_anonymous_cuts_stop_at_the_daily_cap_shared_by_every_instance(make_api):
    api = make_api(SHARE_CUTS_PER_DAY="1")
    first = _page(api.url, 0)
    over = _page(api.url, 1)
    elsewhere = _page(api.another_server(), 2)  # another instance: the same cap
    again = _page(api.url, 0)  # a clip that exists still plays
    assert first.status_code == 200 and "<audio" in first.text
    for refused in (over, elsewhere):
        assert refused.status_code == 429 and "<audio" not in refused.text
        assert "paused for today" in refused.text and "limit of 1 new clips" in refused.text
        assert 0 < int(refused.headers["Retry-After"]) <= 86400
    assert again.status_code == 200
    cut = sorted(r["chunk_index"] for r in api.db["audio_clips"].find({}, {"chunk_index": 1}))
    assert cut == [0]


def test_the_per_ip_limit_still_comes_first(make_api):
    api = make_api(RATE_LIMIT_PER_IP_PER_MINUTE="1")
    assert _page(api.url, 0).status_code == 200
    refused = _page(api.url, 1)
    assert refused.status_code == 429 and "Try again in a minute" in refused.text
    assert api.db["daily_caps"].find_one({})["count"] == 1  # the refused view took no slot


def test_a_view_reads_only_the_chunks_it_shows(mongo_server, mongo_db, settings, s3_storage):
    """A 3-hour episode has hundreds of chunks; the page of one clip shows two or three."""
    guid = "long-episode"
    chunks = [{"episode_id": guid, "chunk_index": i, "start_time": i * 10.0,
               "text": f"chunk {i} " + "word " * 20, **({"end_time": i * 10.0 + 9.5}
                                                        if i % 2 else {})} for i in range(1000)]
    mongo_db["transcript_chunks_768d"].insert_many(chunks)
    mongo_db["episode_metadata"].insert_one({"guid": guid, "duration": 10_000.0})
    listener = CommandLog()
    client = pymongo.MongoClient(mongo_server.uri, event_listeners=[listener])
    service = ClipService(settings, client[mongo_db.name], s3_storage)
    spec, record = ClipSpec(guid, 500), {"start_time": 5000.0, "clip_duration_seconds": 30.0}
    transcript = transcript_for(service, spec, record)
    read = listener.documents_returned()  # the episode, and the chunks
    whole = clip_transcript(service.catalogue.chunks_of(guid), 5000.0, 30.0, 10_000.0)
    client.close()
    assert transcript == whole and transcript.cues[0].words[0].text == "chunk"
    assert read <= 1 + 16, f"{read} documents read for a clip over 4 chunks"
