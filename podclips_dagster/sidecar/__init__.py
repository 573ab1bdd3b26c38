"""The sidecar: a small synchronous HTTP API over the clip service (FastAPI + Mangum)."""
