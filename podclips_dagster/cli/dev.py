"""`podclips dev` and `podclips seed-demo`."""

from __future__ import annotations


def register(commands) -> None:
    p = commands.add_parser(
        "dev", help="run the whole local stack (MongoDB, object store, Dagster, API)",
        description="Starts the embedded MongoDB-protocol server (data under PODCLIPS_HOME), "
        "the local object store, seeds demo episodes once, and serves the Dagster UI and the "
        "sidecar API in the foreground. Ctrl-C, SIGTERM or a closed terminal stops everything "
        "it started; data is kept.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--dagster-port", type=int, default=3000)
    p.add_argument("--api-port", type=int, default=8000)
    p.add_argument("--no-seed", action="store_true", help="do not seed demo episodes")
    p.add_argument("--postgres", action="store_true",
                   help="run Dagster on the production instance (deploy/dagster/dagster.yaml) "
                   "with its storage on a PostgreSQL server of our own (data under "
                   "PODCLIPS_HOME/postgres; needs Debian's postgresql package)")
    p.add_argument("--stop", action="store_true",
                   help="stop the embedded MongoDB-protocol server that CLI commands started "
                   "under PODCLIPS_HOME, print {\"stopped\": true|false}, and exit")
    p.set_defaults(handler=run_dev)

    s = commands.add_parser(
        "seed-demo", help="add synthetic demo episodes and chunks (idempotent)",
        description="Generates tone-coded synthetic episodes (CBR/VBR MP3, MP3 with cover art, "
        "M4A), stores their audio in the source bucket, inserts episode_metadata and "
        "transcript chunks, and registers their clip partitions in Dagster when DAGSTER_HOME "
        "is set. Prints {\"episodes\": [...], \"partitions_added\": N}.",
    )
    s.add_argument("--episodes", type=int, default=None,
                   help="how many demo episodes (default: all five)")
    s.set_defaults(handler=run_seed_demo)


def run_seed_demo(args) -> int:
    from podclips_dagster.cli import emit
    from podclips_dagster.cli.settings import cli_settings
    from podclips_dagster.devstack.demo import seed_and_register

    emit(seed_and_register(cli_settings(), args.episodes))
    return 0


def run_dev(args) -> int:
    from podclips_dagster.cli import emit
    from podclips_dagster.config import Settings
    from podclips_dagster.devstack.mongo_server import stop_embedded_mongo
    from podclips_dagster.devstack.runner import run_dev as run

    if args.stop:
        emit({"stopped": stop_embedded_mongo(Settings.from_env().home)})
        return 0

    return run(Settings.from_env(), args.host, args.dagster_port, args.api_port,
               seed=not args.no_seed, postgres=args.postgres)
