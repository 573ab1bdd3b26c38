"""The CLI's settings: the environment's, with the embedded MongoDB server when none is named.

Library code raises MissingConfiguration without MONGODB_URI; the CLI is a
door people run on a laptop, so it starts (or reuses) the embedded server
under PODCLIPS_HOME instead, shared with `podclips dev` and other CLI calls.
"""

from __future__ import annotations

import importlib.util

from podclips_dagster.config import Settings
from podclips_dagster.core.errors import MissingConfiguration


def cli_settings() -> Settings:
    settings = Settings.from_env()
    if settings.mongodb_uri:
        return settings
    if importlib.util.find_spec("secantus") is None:
        raise MissingConfiguration(
            "MONGODB_URI is not set and the embedded MongoDB server is not installed: set "
            "MONGODB_URI, or install the `local` extra (pip install -e '.[local]')")
    from podclips_dagster.devstack.mongo_server import embedded_mongo_uri

    return settings.with_overrides(mongodb_uri=embedded_mongo_uri(settings.home))
