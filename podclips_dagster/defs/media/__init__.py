"""Dagster definitions for media made from clips (share assets, audiogram videos)."""
