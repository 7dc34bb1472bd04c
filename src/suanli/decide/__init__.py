"""Choosing between plans: the procurement optimiser, baselines, robustness and sensitivity."""
