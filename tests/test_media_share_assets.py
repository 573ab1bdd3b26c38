"""Share assets stored beside a real clip in S3 (moto) and recorded in MongoDB (SecantusDB)."""

import json

import pytest

from podclips_dagster.core.media.share_assets import (
    SHARE_FIELD,
    ClipNotCut,
    asset_key,
    ensure_share_assets,
)
from podclips_dagster.core.spec import ClipSpec
from tests.media_fixtures import EPISODE_ID, peaks_duration

# One seeded world for every media test module (imported fixtures would be one per module).
pytest_plugins = ["tests.media_fixtures"]


def test_assets_are_stored_beside_the_clip_and_recorded(media_world, media_clip):
    service = media_world.service
    spec = media_clip.spec
    made = ensure_share_assets(service, spec, force=True)
    assert made.created
    base = spec.object_key.removesuffix(".mp3")
    assert base == "audio_clips/media~3Ashow~2Fep-1/1"
    assert {made.key(k) for k in ("waveform_json", "waveform_png", "transcript_vtt")} == {
        base + ".waveform.json", base + ".waveform.png", base + ".vtt"}

    client = service.storage.client
    bucket = service.clips_bucket.name
    head = client.head_object(Bucket=bucket, Key=base + ".waveform.png")
    assert head["ContentType"] == "image/png"
    peaks = json.loads(client.get_object(Bucket=bucket, Key=base + ".waveform.json")["Body"].read())
    assert peaks["version"] == 2 and peaks["length"] == 800
    assert peaks_duration(peaks) == pytest.approx(media_clip.duration, abs=0.1)
    assert max(peaks["data"]) > 20  # the synthetic tones are at half scale
    vtt = client.get_object(Bucket=bucket, Key=base + ".vtt")["Body"].read().decode()
    assert vtt.startswith("WEBVTT") and "Word timing: proportional" in vtt
    assert "Here is the first thing." in vtt and "Welcome back" not in vtt

    record = service.records.find(spec)[SHARE_FIELD]
    assert record["waveform_png"]["s3_url"] == f"s3://{bucket}/{base}.waveform.png"
    assert record["transcript_vtt"]["public_url"] is None  # no CDN configured here
    assert record["transcript_timing"] == "proportional"
    assert record["clip_generated_at"] == service.records.find(spec)["generated_at"]


def test_current_assets_are_reused_and_a_new_cut_makes_them_stale(media_world):
    service = media_world.service
    clip = service.ensure_clip(EPISODE_ID, 0, 15)
    first = ensure_share_assets(service, clip.spec)
    assert first.created
    again = ensure_share_assets(service, clip.spec)
    assert not again.created
    recut = service.ensure_clip(EPISODE_ID, 0, 15, force=True)  # a new generated_at
    remade = ensure_share_assets(service, clip.spec)
    assert remade.created
    assert remade.share["clip_generated_at"] != again.share["clip_generated_at"]
    assert service.records.find(clip.spec)[SHARE_FIELD]["clip_generated_at"] == \
        service.records.find(recut.spec)["generated_at"]


def test_media_of_a_clip_not_cut_yet_is_a_clear_error(media_world):
    with pytest.raises(ClipNotCut, match="has not been cut yet") as err:
        ensure_share_assets(media_world.service, ClipSpec(EPISODE_ID, 3, 60))
    assert err.value.kind == "not_found"


def test_keys_follow_the_clip_for_other_durations():
    spec = ClipSpec("a/b", 7, 15)
    assert asset_key(spec, "transcript_vtt") == "audio_clips/a~2Fb/7_15s.vtt"
