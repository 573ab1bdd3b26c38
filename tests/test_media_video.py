"""Audiogram videos: they play, last as long as the clip, carry both streams, and show
captions exactly while the transcript has words."""

import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from podclips_dagster.core.errors import InvalidClipRequest
from podclips_dagster.core.media.probe import probe_media
from podclips_dagster.core.media.videos import ensure_video, video_key
from tests.media_fixtures import CAPTIONED, EPISODE_ID, UNCAPTIONED

# One seeded world for every media test module (imported fixtures would be one per module).
pytest_plugins = ["tests.media_fixtures"]


def fetch(service, key, path):
    with open(path, "wb") as out:
        for block in service.clips_bucket.iter_chunks(key):
            out.write(block)
    return path


def frame(ffmpeg, video, t) -> np.ndarray:
    proc = subprocess.run([ffmpeg, "-v", "error", "-ss", f"{t:.2f}", "-i", str(video),
                           "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                          capture_output=True, check=True)
    return np.frombuffer(proc.stdout, np.uint8)


def caption_pixels(ffmpeg, video, t, width, height) -> int:
    """White text pixels in the caption band (the title is at the top, the wave mid-frame)."""
    image = frame(ffmpeg, video, t).reshape(height, width, 3)
    band = image[int(height * 0.72):int(height * 0.97)]
    return int((band.min(axis=2) > 200).sum())


def test_square_audiogram_plays_with_captions_at_the_right_times(media_world, media_clip,
                                                                 tmp_path):
    service, ffmpeg = media_world.service, media_world.service.ffmpeg
    video = ensure_video(service, media_clip.spec, "1080x1080")
    path = fetch(service, video_key(media_clip.spec, "1080x1080"), tmp_path / "v.mp4")
    info = probe_media(path, ffmpeg)
    assert info.video_codecs == ("h264",) and info.audio_codecs == ("aac",)
    assert info.video_size == (1080, 1080)
    assert info.duration == pytest.approx(media_clip.duration, abs=0.1)
    assert video.duration == pytest.approx(media_clip.duration, abs=0.1)
    # It plays: FFmpeg decodes every frame and sample without an error.
    decoded = subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-f", "null", "-"],
                             capture_output=True)
    assert decoded.returncode == 0 and decoded.stderr == b""

    for start, end in CAPTIONED:
        for t in (start + 0.3, (start + end) / 2, end - 0.3):
            assert caption_pixels(ffmpeg, path, t, 1080, 1080) > 300, f"no caption at {t} s"
    for t in (UNCAPTIONED[0] + 0.3, sum(UNCAPTIONED) / 2, UNCAPTIONED[1] - 0.3):
        assert caption_pixels(ffmpeg, path, t, 1080, 1080) == 0, f"a caption at {t} s"

    again = ensure_video(service, media_clip.spec, "1080x1080")
    assert again.cached and again.s3_url == video.s3_url
    record = service.records.find(media_clip.spec)
    assert record["videos"]["1080x1080"]["s3_url"] == video.s3_url


def test_landscape_audiogram_rendered_once_for_identical_requests(media_world, tmp_path):
    service = media_world.service
    clip = service.ensure_clip(EPISODE_ID, 2, 15)
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(lambda _: ensure_video(service, clip.spec, "1920x1080"), range(2)))
    assert sorted(v.cached for v in both) == [False, True]  # one rendered, one reused it
    # The same video (MongoDB keeps milliseconds of the renderer's timestamp).
    assert abs(both[0].generated_at - both[1].generated_at).total_seconds() < 0.001
    video = both[0]
    assert video.s3_url.endswith("audio_clips/media~3Ashow~2Fep-1/2_15s.audiogram-1920x1080.mp4")
    info = probe_media(fetch(service, video_key(clip.spec, "1920x1080"), tmp_path / "w.mp4"),
                       service.ffmpeg)
    assert info.video_size == (1920, 1080) and info.audio_codecs == ("aac",)
    assert info.duration == pytest.approx(clip.duration, abs=0.1)


def test_unknown_size_is_refused(media_world, media_clip):
    with pytest.raises(InvalidClipRequest, match="1080x1080, 1920x1080"):
        ensure_video(media_world.service, media_clip.spec, "640x480")
