"""Training curves: read the user's own training logs and say whether, and when, overfitting began."""
