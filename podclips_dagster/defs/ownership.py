"""Who answers for an asset, and the domain tag the UI groups and filters assets by."""

OWNERS = ["team:podclips"]
# The catalogue (episodes, transcript chunks) is written by the PodInsight ingestion system.
INGESTION_OWNERS = ["team:podinsight-ingestion"]


def domain(name: str) -> dict[str, str]:
    return {"domain": name}
