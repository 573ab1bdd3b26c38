"""The embedded local stack: MongoDB-protocol server, local objects, demo data."""
