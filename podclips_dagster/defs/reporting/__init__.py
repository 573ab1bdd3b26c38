"""Reporting: clips and videos made outside Dagster (CLI, sidecar) show up in Dagster too."""
