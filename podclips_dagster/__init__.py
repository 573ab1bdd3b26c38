"""podclips: exact, shareable podcast audio clips."""
