"""`podclips api`, `podclips api-key create|revoke|list` and `podclips stats`."""

from __future__ import annotations


def register(commands) -> None:
    p = commands.add_parser(
        "api", help="serve the sidecar HTTP API locally",
        description="Serves the sidecar API (the same app as the Lambda) with uvicorn. The "
        "client IP used for rate limits is the socket peer: X-Forwarded-For is ignored.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(handler=run_api)

    k = commands.add_parser(
        "api-key", help="create, revoke or list sidecar API keys",
        description="API keys for the sidecar's X-API-Key header. A new key is printed once; "
        "only its SHA-256 hash is stored.",
    )
    actions = k.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key and print {\"name\", \"api_key\"}")
    create.add_argument("name", metavar="NAME", help="who the key is for (letters, digits, _.-)")
    create.set_defaults(handler=run_key_create)
    revoke = actions.add_parser("revoke", help="revoke the active key named NAME")
    revoke.add_argument("name", metavar="NAME")
    revoke.set_defaults(handler=run_key_revoke)
    listing = actions.add_parser("list", help="list key names (never the keys)")
    listing.set_defaults(handler=run_key_list)

    s = commands.add_parser(
        "stats", help="cache-hit ratio and latency percentiles of the sidecar",
        description="Prints one JSON object: requests by status and route, cache-hit ratio, "
        "latency percentiles of hits and misses (from the API's request log), the clips "
        "cut in the window (processing time, bytes read and stored, by door), and the Dagster "
        "runs that failed in it (recent_run_failures, newest first).",
    )
    s.add_argument("--hours", type=float, default=24.0, help="look back this many hours (24)")
    s.set_defaults(handler=run_stats)


def _db():
    from podclips_dagster.cli.settings import cli_settings
    from podclips_dagster.core.stores.client import database_for

    return database_for(cli_settings())


def _keys():
    from podclips_dagster.core.api_keys import ApiKeys

    return ApiKeys.in_db(_db())


def run_api(args) -> int:
    import uvicorn

    from podclips_dagster.cli import say
    from podclips_dagster.cli.settings import cli_settings
    from podclips_dagster.sidecar.app import create_app

    say(f"podclips API on http://{args.host}:{args.port} (OpenAPI at /docs)")
    uvicorn.run(create_app(cli_settings()), host=args.host, port=args.port, proxy_headers=False,
                log_level="warning", lifespan="off")
    return 0


def run_key_create(args) -> int:
    from podclips_dagster.cli import emit, say

    key = _keys().create(args.name)
    emit({"name": args.name, "api_key": key})
    say("store this key now: it is not shown again (only its hash is kept)")
    return 0


def run_key_revoke(args) -> int:
    from podclips_dagster.cli import emit

    emit({"name": args.name, "revoked": _keys().revoke(args.name)})
    return 0


def run_key_list(args) -> int:
    from podclips_dagster.cli import emit

    emit({"keys": [{"name": k.name, "created_at": k.created_at.isoformat(),
                    "revoked_at": k.revoked_at and k.revoked_at.isoformat()}
                   for k in _keys().list()]})
    return 0


def run_stats(args) -> int:
    from datetime import UTC, datetime, timedelta

    from podclips_dagster.cli import emit
    from podclips_dagster.core.stores.run_failures import RunFailures
    from podclips_dagster.sidecar.stats import api_stats

    db = _db()
    since = datetime.now(UTC) - timedelta(hours=args.hours)
    emit({**api_stats(db, args.hours), "recent_run_failures": RunFailures(db).since(since)})
    return 0
