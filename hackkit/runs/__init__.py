"""Headless runs and 05: the papermill pipeline, sweeps, the Optuna search, the leaderboard, and
the distill command that makes a student run."""
