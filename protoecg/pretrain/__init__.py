"""Stage 4: encoder pretraining from unlabelled ECGs and their reports (augmentations,
contrastive losses, a report encoder)."""
