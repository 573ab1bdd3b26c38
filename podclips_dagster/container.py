"""The container image's entrypoint: `python -m podclips_dagster.container COMMAND ...`.

Every Dagster process of the image (code server, webserver, daemon, run tasks)
starts through it: it names psycopg2 in DAGSTER_PG_URL, so a plain
postgresql:// URL from Secrets Manager works, or stops with the reason, then
becomes COMMAND.
"""

from __future__ import annotations

import os
import sys

from podclips_dagster.config import dagster_pg_url


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m podclips_dagster.container COMMAND [ARG ...]", file=sys.stderr)
        return 2
    try:
        url = dagster_pg_url(os.environ)
    except ValueError as error:
        print(f"podclips container: {error}", file=sys.stderr)
        return 2
    if url:
        os.environ["DAGSTER_PG_URL"] = url
    os.execvp(argv[0], argv)
    return 1  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
