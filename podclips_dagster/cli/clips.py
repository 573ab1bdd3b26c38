"""`podclips clip`: ensure one clip exists and print where it is."""

from __future__ import annotations

from podclips_dagster.core.spec import ALLOWED_DURATIONS, DEFAULT_DURATION


def register(commands) -> None:
    p = commands.add_parser(
        "clip", help="cut a clip (or reuse it) and print its URL as JSON",
        description="Ensure the clip of CHUNK_INDEX of EPISODE_ID exists: reuse it if it is "
        "stored, else cut it from the episode's audio, store and record it. Prints one JSON "
        "object with audio_url, duration, cached, start_time, end_time, s3_url, "
        "file_size_bytes, processing_time_ms and partition_key.",
    )
    p.add_argument("episode_id", metavar="EPISODE_ID",
                   help="the episode's guid, special id (substack:post:1) or 24-hex ObjectId")
    p.add_argument("chunk_index", metavar="CHUNK_INDEX", type=int, help="0-based chunk index")
    p.add_argument("--duration", type=int, default=DEFAULT_DURATION, choices=ALLOWED_DURATIONS,
                   help=f"clip length in seconds (default {DEFAULT_DURATION})")
    p.add_argument("--force", action="store_true", help="cut again even if the clip exists")
    p.set_defaults(handler=run_clip)


def run_clip(args) -> int:
    from podclips_dagster.cli import emit
    from podclips_dagster.cli.settings import cli_settings
    from podclips_dagster.core.service import ClipService

    service = ClipService.from_settings(cli_settings())
    result = service.ensure_clip(args.episode_id, args.chunk_index, args.duration,
                                 force=args.force, requested_by="cli")
    emit(result.to_dict())
    return 0
