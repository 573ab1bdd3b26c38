"""Dagster definitions: thin wrappers that decide what to make, never how."""
