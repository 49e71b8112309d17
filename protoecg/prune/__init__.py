"""Act on a review study: select prototypes by a rule over the ratings, disable or replace them,
retrain what depends on them, and keep the lineage."""
