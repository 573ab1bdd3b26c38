"""The share page and the video route, over HTTP against the real app."""

import re
from html import unescape
from urllib.parse import quote

import httpx
import pytest

from tests.media_fixtures import EPISODE_ID, EPISODE_TITLE, PODCAST

# One seeded world for every media test module (imported fixtures would be one per module).
pytest_plugins = ["tests.media_fixtures"]


def meta(page: str, name: str) -> str:
    m = re.search(rf'<meta (?:property|name)="{re.escape(name)}" content="([^"]*)">', page)
    assert m, f"no meta {name}"
    return unescape(m.group(1))


def test_share_page_has_player_waveform_transcript_and_unfurl_tags(media_api):
    response = httpx.get(media_api.page_url(), timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    audio = re.search(r'<audio id="player" controls preload="metadata" src="([^"]+)"', page)
    assert audio and "audio_clips/media~3Ashow~2Fep-1/1.mp3" in unescape(audio.group(1))
    assert httpx.get(unescape(audio.group(1))).status_code == 200  # the URL really plays
    assert f"<h1>{EPISODE_TITLE}</h1>" in page and PODCAST in page
    assert meta(page, "og:title") == f"{EPISODE_TITLE} · {PODCAST}"
    assert meta(page, "og:description").startswith("Here is the first thing.")
    assert ".waveform.png" in meta(page, "og:image")
    assert meta(page, "og:audio") == unescape(audio.group(1))
    assert meta(page, "twitter:card") == "player"
    assert meta(page, "twitter:player").endswith("?embed=1")
    assert meta(page, "twitter:player:stream:content_type") == "audio/mpeg"
    # The transcript is plain text in the page (readable with JavaScript off), timed per cue.
    cues = re.findall(r'<li class="cue" data-start="([\d.]+)" data-end="([\d.]+)">', page)
    assert len(cues) >= 4 and float(cues[0][0]) == 0.0
    assert ">Here</span> <span" in page and "Word timing is approximate" in page
    link = unescape(re.search(r'<input id="link" type="url" value="([^"]+)"', page).group(1))
    assert httpx.get(link, timeout=30).status_code == 200  # the copied link opens this page


def test_embed_layout_and_other_durations(media_api):
    page = httpx.get(media_api.page_url() + "?embed=1&duration=15", timeout=60).text
    assert '<body class="embed">' in page
    assert "1_15s.mp3" in page and 'data-duration="15.000"' in page


def test_text_from_the_catalogue_is_escaped(media_world, media_api):
    source = media_world.db["episode_metadata"].find_one({"guid": EPISODE_ID})
    media_world.db["episode_metadata"].insert_one({
        **{k: v for k, v in source.items() if k != "_id"},
        "guid": "evil-1", "episode_title": 'Q&A <script>alert("x")</script>'})
    media_world.db["transcript_chunks_768d"].insert_one({
        "episode_id": "evil-1", "chunk_index": 0, "start_time": 0.0, "end_time": 10.0,
        "text": "<img src=x onerror=alert(1)> & more"})
    page = httpx.get(media_api.page_url("evil-1", 0), timeout=60).text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "Q&amp;A &lt;script&gt;" in page and "&lt;img" in page


@pytest.mark.parametrize("path, status, says", [
    ("/clips/no-such-episode/1", 404, "not in the catalogue"),
    (f"/clips/{quote(EPISODE_ID, safe='')}/99", 404, "has no chunk 99"),
    (f"/clips/{quote(EPISODE_ID, safe='')}/1?duration=45", 422, "45 s is not offered"),
])
def test_bad_share_links_get_an_html_page_naming_the_problem(media_api, path, status, says):
    response = httpx.get(media_api.url + path, timeout=30)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert says in unescape(response.text) and "Traceback" not in response.text


def test_video_route_needs_a_key_and_validates(media_api):
    body = {"episode_id": EPISODE_ID, "chunk_index": 1}
    response = httpx.post(f"{media_api.url}/api/generate-video-clip", json=body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"
    response = httpx.post(f"{media_api.url}/api/generate-video-clip",
                          json={**body, "size": "640x480"}, headers={"X-API-Key": media_api.key})
    assert response.status_code == 422 and "size" in response.json()["error"]["message"]


def test_video_route_renders_once_then_reuses(media_api):
    headers = {"X-API-Key": media_api.key}
    body = {"episode_id": EPISODE_ID, "chunk_index": 1, "size": "1080x1080"}
    first = httpx.post(f"{media_api.url}/api/generate-video-clip", json=body, headers=headers,
                       timeout=120)
    assert first.status_code == 200, first.text
    video = first.json()
    assert video["size"] == "1080x1080" and video["duration"] == pytest.approx(30, abs=0.1)
    assert video["s3_url"].endswith("/1.audiogram-1080x1080.mp4")
    assert httpx.head(video["video_url"]).headers["content-type"] == "video/mp4"
    second = httpx.post(f"{media_api.url}/api/generate-video-clip", json=body, headers=headers,
                        timeout=60).json()
    assert second["cached"] and second["s3_url"] == video["s3_url"]
