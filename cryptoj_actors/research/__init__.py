"""Research at scale: parameter sweeps of whole replays (``optimize``),
walk-forward, with Optuna's search and Ray's workers."""
