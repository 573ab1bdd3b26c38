"""`podclips index`: build and store an episode's frame index, layout or sample table."""

from __future__ import annotations


def register(commands) -> None:
    p = commands.add_parser(
        "index", help="index an episode's audio so its first clip reads only the window",
        description="Build and store what cuts of EPISODE_ID's audio need: the frame index of "
        "a VBR MP3, the layout of a CBR MP3 or the sample table of an M4A (reused if already "
        "stored). Prints one JSON object: episode_id, kind, strategy, entries, bytes_read, "
        "stored_bytes, seconds, ... Exit 2 for an unknown episode.",
    )
    p.add_argument("episode_id", metavar="EPISODE_ID",
                   help="the episode's guid, special id (substack:post:1) or 24-hex ObjectId")
    p.add_argument("--force", action="store_true", help="build it again even if it is stored")
    p.set_defaults(handler=run_index)


def run_index(args) -> int:
    from podclips_dagster.cli import emit
    from podclips_dagster.cli.settings import cli_settings
    from podclips_dagster.core.episode_indexes import index_episode
    from podclips_dagster.core.service import ClipService

    service = ClipService.from_settings(cli_settings())
    emit(index_episode(service, args.episode_id, force=args.force))
    return 0
