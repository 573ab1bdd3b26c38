"""pymongo errors as core errors, naming what we were doing."""

from __future__ import annotations

import contextlib

from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from podclips_dagster.core.errors import DependencyUnavailable


@contextlib.contextmanager
def mongo_errors(doing: str):
    """Turn driver errors into DependencyUnavailable naming what we were doing."""
    try:
        yield
    except ConnectionFailure as err:
        raise DependencyUnavailable(f"MongoDB is unreachable while {doing}: {err}") from None
    except OperationFailure as err:
        raise DependencyUnavailable(f"MongoDB refused {doing}: {err}") from None
    except PyMongoError as err:
        raise DependencyUnavailable(f"MongoDB failed while {doing}: {err}") from None
