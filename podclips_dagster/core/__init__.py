"""The clip core: specs, keys, cutting, stores and the clip service.

Nothing in here imports Dagster or FastAPI, so the Lambda package stays small
and the core can be tested alone.
"""
