"""Demand prediction: which clips to cut before anyone asks (DESIGN.md, "Demand").

- events: the `clip_demand_events` collection (batched writer, indexes, loader)
- features: per-chunk demand features as of a moment (pandas)
- scoring: transparent scores and the budgeted choice of clips to cut
- model: the learned model (logistic regression, numpy), its training and lift
- keys, fast_path: a clip's name, and what the lookup route pre-cuts at once
- strategies: what the hourly schedule runs (and the replay measures)
- synthetic / replay: a seeded world and the replay that measures strategies
- budget: the pre-generation budget per day, one counter shared by every door
- store: catalogue frames, models, scores and existing clips in MongoDB
- planning: what the Dagster assets, schedule and sensor run (train, score, plan)
- precut: the sidecar's fast path (queue pre-cuts of what it just showed or played)

Nothing here imports Dagster or FastAPI, and the package itself imports
nothing (the sidecar loads only keys, fast_path, budget, precut and events,
which need no pandas); the `clip_demand` asset and the
`pregenerate_high_demand_clips` schedule call these functions.
"""
