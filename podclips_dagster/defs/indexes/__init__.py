"""Per-episode audio indexes, built before anyone waits for a clip."""
