"""`podclips`: the command line door to the clip service.

One JSON object on stdout for machines, messages on stderr for people.
Exit 0 on success, 2 on bad input (unknown episode, chunk out of range, bad
duration), 1 on anything else; no traceback unless --debug.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback

from podclips_dagster.core.errors import PodclipsError

BAD_INPUT_KINDS = {"bad_input", "not_found"}


def emit(obj: dict) -> None:
    json.dump(obj, sys.stdout, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    from podclips_dagster.cli import api, clips, dev, indexes, media, requests

    parser = argparse.ArgumentParser(
        prog="podclips",
        description="Exact, shareable podcast clips. Configuration comes from env vars "
        "(MONGODB_URI, S3_SOURCE_BUCKET, S3_CLIPS_BUCKET, PODCLIPS_HOME, ...); with none "
        "set, commands use the embedded stack under ./.podclips.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (dev, clips, indexes, requests, api, media):
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # Dagster's storage migrations (alembic) log a dozen INFO lines whenever an instance opens.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return args.handler(args) or 0
    except PodclipsError as err:
        if args.debug:
            traceback.print_exc()
        say(f"podclips: {err.code}: {err.message}")
        return 2 if err.kind in BAD_INPUT_KINDS else 1
    except KeyboardInterrupt:
        say("podclips: interrupted")
        return 130
    except Exception as err:  # the last line of defence: a message, not a traceback
        if args.debug:
            traceback.print_exc()
        say(f"podclips: unexpected error: {type(err).__name__}: {err} "
            "(run with --debug for details)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
