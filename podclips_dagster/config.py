"""Every setting podclips reads, from environment variables, in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from podclips_dagster.core.demand.online.budget import PrecutBudget


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value


def _precut_budget(env: Mapping[str, str]) -> PrecutBudget:
    default = PrecutBudget()
    return PrecutBudget(
        per_run=int(_float(env, "PRECUT_MAX_CLIPS_PER_RUN", default.per_run)),
        per_day=int(_float(env, "PRECUT_MAX_CLIPS_PER_DAY", default.per_day)),
        max_usd_per_day=_float(env, "PRECUT_MAX_COST_PER_DAY_USD", default.max_usd_per_day),
        usd_per_clip=_float(env, "PRECUT_COST_PER_CLIP_USD", default.usd_per_clip),
    )


def _backfill_interval(env: Mapping[str, str]) -> float:
    seconds = _float(env, "BACKFILL_DAEMON_INTERVAL_SECONDS", 5.0)
    if seconds < 1:  # an iteration queries the instance: not in a busy loop
        raise ValueError(f"BACKFILL_DAEMON_INTERVAL_SECONDS must be at least 1, got {seconds}")
    return seconds


def env_is_set(name: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether `name` is set (non-empty): the Dagster resource names it as an EnvVar then."""
    return bool((os.environ if env is None else env).get(name))


PRECUT_MODES = ("direct", "invoke", "queue")


def running_on_lambda(env: Mapping[str, str] | None = None) -> bool:
    """True inside AWS Lambda (its runtime sets AWS_LAMBDA_FUNCTION_NAME)."""
    return bool((os.environ if env is None else env).get("AWS_LAMBDA_FUNCTION_NAME"))


@dataclass(frozen=True)
class Settings:
    home: Path
    mongodb_uri: str | None  # None: the secret below; neither: library code raises (the CLI
    # starts the embedded server)
    mongodb_uri_secret_name: str | None  # Secrets Manager secret holding the URI, read at run time
    mongodb_db: str
    episodes_collection: str
    chunks_collection: str
    storage: str  # "s3" or "local"
    source_bucket: str
    clips_bucket: str
    s3_endpoint_url: str | None
    aws_region: str
    clips_public_base_url: str | None
    api_base_url: str  # where the local API serves files of the local store
    ffmpeg_binary: str | None
    clip_url_ttl_seconds: int
    rate_limit_per_ip_per_minute: int
    rate_limit_per_key_per_hour: int
    share_cuts_per_day: int  # clips cut for anonymous share-page views, all instances together
    clip_retention_days: int
    precut_mode: str  # how the sidecar cuts its pre-cuts: "direct", "invoke" or "queue"
    lambda_function_name: str | None  # set by the Lambda runtime; "invoke" calls it
    lambda_endpoint_url: str | None  # a local Lambda endpoint for "invoke" (tests); None: AWS
    precut_budget: PrecutBudget  # clips cut ahead of demand, shared by every door
    precut_cron: str  # pregenerate_high_demand_clips
    clip_demand_cron: str  # ten minutes before the pre-cut tick: it reads fresh scores
    demand_model_cron: str
    dagster_home: Path | None  # set: `podclips seed-demo` registers partitions there
    share_base_url: str | None  # public base of share links (a custom domain); None: the request's
    font_file: str | None  # TrueType font for audiograms (the Lambda layer's); None: the OS's
    lease_ttl_seconds: int = 20  # a dead cutter's lease is taken over after this
    backfill_daemon_interval_seconds: float = 5.0  # how often podclips-daemon reads backfills

    @property
    def local_objects_dir(self) -> Path:
        return self.home / "objects"

    @property
    def embedded_mongo_dir(self) -> Path:
        return self.home / "mongodb"

    def with_overrides(self, **changes) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        mongodb_uri = env.get("MONGODB_URI") or None
        mongodb_uri_secret_name = env.get("MONGODB_URI_SECRET_NAME") or None
        # On embedded defaults the local object store is the only one that exists.
        embedded = mongodb_uri is None and mongodb_uri_secret_name is None
        storage = env.get("PODCLIPS_STORAGE") or ("local" if embedded else "s3")
        if storage not in ("s3", "local"):
            raise ValueError(f"PODCLIPS_STORAGE must be 's3' or 'local', got {storage!r}")
        # On Lambda, work after the answer would hold the answer back: hand it to an
        # asynchronous invocation of the same function instead.
        lambda_function_name = env.get("AWS_LAMBDA_FUNCTION_NAME") or None
        precut_mode = env.get("PRECUT_MODE") or ("invoke" if lambda_function_name else "direct")
        if precut_mode not in PRECUT_MODES:
            raise ValueError(f"PRECUT_MODE must be one of {', '.join(PRECUT_MODES)}, "
                             f"got {precut_mode!r}")
        return cls(
            home=Path(env.get("PODCLIPS_HOME") or "./.podclips").resolve(),
            mongodb_uri=mongodb_uri,
            mongodb_uri_secret_name=mongodb_uri_secret_name,
            mongodb_db=env.get("MONGODB_DB") or "podinsight",
            episodes_collection=env.get("EPISODES_COLLECTION") or "episode_metadata",
            chunks_collection=env.get("CHUNKS_COLLECTION") or "transcript_chunks_768d",
            storage=storage,
            source_bucket=env.get("S3_SOURCE_BUCKET") or "pod-insights-raw",
            clips_bucket=env.get("S3_CLIPS_BUCKET") or "pod-insights-clips",
            s3_endpoint_url=env.get("S3_ENDPOINT_URL") or None,
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            clips_public_base_url=(env.get("CLIPS_PUBLIC_BASE_URL") or "").rstrip("/") or None,
            api_base_url=(env.get("PODCLIPS_API_URL") or "http://127.0.0.1:8000").rstrip("/"),
            ffmpeg_binary=env.get("FFMPEG_BINARY") or None,
            clip_url_ttl_seconds=_int(env, "CLIP_URL_TTL_SECONDS", 24 * 3600),
            rate_limit_per_ip_per_minute=_int(env, "RATE_LIMIT_PER_IP_PER_MINUTE", 10),
            rate_limit_per_key_per_hour=_int(env, "RATE_LIMIT_PER_KEY_PER_HOUR", 100),
            share_cuts_per_day=_int(env, "SHARE_CUTS_PER_DAY", 2000),
            clip_retention_days=_int(env, "CLIP_RETENTION_DAYS", 30),
            precut_mode=precut_mode,
            lambda_function_name=lambda_function_name,
            lambda_endpoint_url=env.get("AWS_ENDPOINT_URL_LAMBDA") or None,
            precut_budget=_precut_budget(env),
            precut_cron=env.get("PRECUT_CRON") or "0 * * * *",
            clip_demand_cron=env.get("CLIP_DEMAND_CRON") or "50 * * * *",
            demand_model_cron=env.get("DEMAND_MODEL_CRON") or "20 4 * * *",
            dagster_home=Path(env["DAGSTER_HOME"]) if env.get("DAGSTER_HOME") else None,
            lease_ttl_seconds=_int(env, "LEASE_TTL_SECONDS", 20),
            backfill_daemon_interval_seconds=_backfill_interval(env),
            share_base_url=(env.get("SHARE_BASE_URL") or "").rstrip("/") or None,
            font_file=env.get("PODCLIPS_FONT_FILE") or None,
        )


def dagster_pg_url(env: Mapping[str, str]) -> str | None:
    """DAGSTER_PG_URL (Dagster's PostgreSQL storage) with psycopg2 named as its driver.

    SQLAlchemy 2 maps a bare postgresql:// URL to psycopg 3, with which dagster-postgres's
    `NOTIFY run_events, ...` is a syntax error; dagster-postgres is written for psycopg2.
    """
    url = (env.get("DAGSTER_PG_URL") or "").strip()
    if not url:
        return None
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgres", "postgresql", "postgresql+psycopg2"):
        raise ValueError(f"DAGSTER_PG_URL must be postgresql://... or postgresql+psycopg2://... "
                         f"(dagster-postgres runs on psycopg2), got scheme {scheme!r}")
    return f"postgresql+psycopg2://{rest}"
