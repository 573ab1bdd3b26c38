"""The MongoDB URI from AWS Secrets Manager, read at run time (never in the environment).

Powertools' parameters utility caches the value in the process, so warm
Lambda invocations do not call Secrets Manager again; after `max_age` the
next read fetches it anew (a rotated URI reaches new clients).
"""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities import parameters

from podclips_dagster.core.errors import DependencyUnavailable

SECRET_MAX_AGE_SECONDS = 300


def mongodb_uri_from_secret(name: str) -> str:
    """The URI held by secret `name`: a bare URI or JSON `{"uri": ...}` (deploy/README.md)."""
    try:
        value = parameters.get_secret(name, max_age=SECRET_MAX_AGE_SECONDS)
    except parameters.exceptions.GetParameterError as err:
        raise DependencyUnavailable(f"could not read the MongoDB URI from secret {name!r}: "
                                    f"{err}") from None
    if isinstance(value, bytes):
        value = value.decode()
    value = value.strip()
    if value.startswith("{"):
        value = str(json.loads(value).get("uri") or "")
    if not value.startswith(("mongodb://", "mongodb+srv://")):
        raise DependencyUnavailable(f"secret {name!r} holds no MongoDB URI (expected "
                                    '"mongodb://..." or {"uri": "mongodb+srv://..."})')
    return value
