"""The code-version tag on the materializations our assets and sensors write themselves.

Dagster stamps `dagster/code_version` only on the events it makes from an
asset's return value; ours yield one materialization per partition (and the
reporting sensor writes those of clips made outside Dagster), so they stamp it
themselves. With it, the UI shows a partition made by an older cutter or
renderer as stale once that version constant is bumped.
"""

import dagster as dg

CODE_VERSION_TAG = "dagster/code_version"


def code_version_tags(asset: dg.AssetsDefinition) -> dict[str, str]:
    return {CODE_VERSION_TAG: asset.code_versions_by_key[asset.key]}
