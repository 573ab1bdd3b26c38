"""The demand domain: demand events, the model, the scores, and the pre-cuts they drive."""

import dagster as dg

from podclips_dagster.defs.demand.assets import clip_demand, clip_demand_events, demand_model
from podclips_dagster.defs.demand.schedules import (
    clip_demand_job,
    clip_demand_schedule,
    demand_model_job,
    demand_model_schedule,
    pregenerate_high_demand_clips,
)
from podclips_dagster.defs.demand.sensors import new_episode_sensor

defs = dg.Definitions(
    assets=[clip_demand_events, demand_model, clip_demand],
    jobs=[clip_demand_job, demand_model_job],
    sensors=[new_episode_sensor],
    schedules=[clip_demand_schedule, demand_model_schedule, pregenerate_high_demand_clips],
)
