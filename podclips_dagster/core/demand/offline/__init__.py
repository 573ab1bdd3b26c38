"""Demand code Dagster runs: features, the learned model, scores and plans (pandas)."""
