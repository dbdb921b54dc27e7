"""HTTP delivery: routes are one-line adapters onto services."""
