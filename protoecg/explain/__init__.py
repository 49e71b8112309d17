"""Case-based explanations of a trained run's predictions with its prototype catalog."""
