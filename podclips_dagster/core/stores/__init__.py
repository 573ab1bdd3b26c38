"""MongoDB-backed stores: the catalogue we read, and the records we own."""
