"""Stage 5: audits of a trained run's explanations (sanity checks, segments, activation)."""
