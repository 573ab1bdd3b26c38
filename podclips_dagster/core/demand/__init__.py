"""Demand: which clips to pre-cut (cut before anyone asks), split by where the code runs.

- `online/`: what the sidecar (and its Lambda package) imports; no pandas.
  keys (a clip's name), events (the demand event writer), budget (the
  pre-cut budget per day, one counter shared by every door), sidecar_precut
  (which shown results the sidecar pre-cuts at once) and precut (queueing and
  cutting those pre-cuts).
- `offline/`: what Dagster runs; pandas and numpy. features, model (the
  learned model), scoring, strategies, store (catalogue frames, models and
  scores in MongoDB) and planning (train, score, plan the
  `pregenerate_high_demand_clips` schedule and the new-episode sensor).

Nothing here imports Dagster or FastAPI. The synthetic world that exercises
this code lives in `podclips_dagster.devstack.demand_world` (the dev stack
seeds its demo demand with it) and the replay that measures strategies in the
top-level `simulation` package (tests and benchmarks only).
"""
