"""Media made from a stored clip: waveform, timed transcript, audiogram video, soundbites.

No Dagster or FastAPI here: the `clip_share_assets` / `clip_videos` assets,
the share page and `podclips video|soundbites` all call these functions.
"""
