"""Failed runs are recorded in MongoDB, where `podclips stats` shows them."""
