"""On-demand requests: MongoDB `clip_requests` -> sensor -> clip runs, and the watchdog."""
