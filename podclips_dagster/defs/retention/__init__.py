"""Retention: clips past their age give back their partitions (and, if asked, their storage)."""
