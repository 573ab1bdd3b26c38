"""The media domain: share assets that follow each clip, and videos made on request."""

import dagster as dg

from podclips_dagster.defs.media.assets import clip_share_assets, clip_videos
from podclips_dagster.defs.media.sensors import share_assets_follow_clips

defs = dg.Definitions(assets=[clip_share_assets, clip_videos],
                      sensors=[share_assets_follow_clips])
