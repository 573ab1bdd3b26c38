"""`podclips video` and `podclips soundbites`: media made from clips."""

from __future__ import annotations

from podclips_dagster.core.media.audiogram import DEFAULT_VIDEO_SIZE, VIDEO_SIZES
from podclips_dagster.core.spec import ALLOWED_DURATIONS, DEFAULT_DURATION


def register(commands) -> None:
    v = commands.add_parser(
        "video", help="render (or reuse) an audiogram MP4 of a clip and print its URL as JSON",
        description="Ensure the clip of CHUNK_INDEX of EPISODE_ID exists (cut it if needed), "
        "then render an audiogram video of it (H.264 + AAC MP4: animated waveform, title, "
        "burned-in captions from the clip's transcript), store it beside the clip and print "
        "one JSON object with video_url, size, duration, file_size_bytes, render_time_ms, "
        "cached and partition_key. A current video is reused unless --force.",
    )
    v.add_argument("episode_id", metavar="EPISODE_ID",
                   help="the episode's guid, special id (substack:post:1) or 24-hex ObjectId")
    v.add_argument("chunk_index", metavar="CHUNK_INDEX", type=int, help="0-based chunk index")
    v.add_argument("--size", default=DEFAULT_VIDEO_SIZE, choices=VIDEO_SIZES,
                   help=f"frame size (default {DEFAULT_VIDEO_SIZE}: square for social feeds)")
    v.add_argument("--duration", type=int, default=DEFAULT_DURATION, choices=ALLOWED_DURATIONS,
                   help=f"clip length in seconds (default {DEFAULT_DURATION})")
    v.add_argument("--output", "-o", metavar="FILE", help="also write the MP4 to FILE")
    v.add_argument("--force", action="store_true", help="render again even if it exists")
    v.set_defaults(handler=run_video)

    s = commands.add_parser(
        "soundbites", help="print Podcasting 2.0 <podcast:soundbite> lines for an episode",
        description="Ranks the episode's chunks by demand (plays, clip requests and search "
        "impressions in clip_demand_events), then chunks that already have a clip, then chunk "
        "order, and prints one <podcast:soundbite startTime=.. duration=..>title"
        "</podcast:soundbite> line per soundbite, best first, for the episode's <item> in an "
        "RSS feed. With --json, prints one JSON object instead.",
    )
    s.add_argument("episode_id", metavar="EPISODE_ID", help="the episode's guid or ObjectId")
    s.add_argument("--top", type=int, default=5, metavar="N", help="how many (default 5)")
    s.add_argument("--duration", type=int, default=DEFAULT_DURATION, choices=ALLOWED_DURATIONS,
                   help=f"soundbite length where no clip exists yet (default {DEFAULT_DURATION})")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(handler=run_soundbites)


def _service():
    from podclips_dagster.cli.settings import cli_settings
    from podclips_dagster.core.service import ClipService

    return ClipService.from_settings(cli_settings())


def run_video(args) -> int:
    from podclips_dagster.cli import emit, say
    from podclips_dagster.core.media.videos import ensure_video, video_key

    service = _service()
    clip = service.ensure_clip(args.episode_id, args.chunk_index, args.duration,
                               requested_by="cli")
    video = ensure_video(service, clip.spec, args.size, force=args.force, made_by="cli")
    say(f"podclips: {'reused' if video.cached else 'rendered'} the {args.size} audiogram of "
        f"{clip.spec.describe()}" + ("" if video.cached else f" in {video.render_time_ms} ms"))
    out = video.to_dict()
    if args.output:
        with open(args.output, "wb") as target:
            for block in service.clips_bucket.iter_chunks(video_key(clip.spec, args.size)):
                target.write(block)
        out["output"] = args.output
    emit(out)
    return 0


def run_soundbites(args) -> int:
    from podclips_dagster.cli import emit
    from podclips_dagster.core.errors import InvalidClipRequest
    from podclips_dagster.core.media.soundbites import top_soundbites

    if args.top < 1:
        raise InvalidClipRequest(f"--top must be at least 1, got {args.top}")
    bites = top_soundbites(_service(), args.episode_id, args.top, args.duration)
    if args.json:
        emit({"episode_id": args.episode_id, "soundbites": [b.to_dict() for b in bites]})
    else:
        print("\n".join(b.to_xml() for b in bites), flush=True)
    return 0
