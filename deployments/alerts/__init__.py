"""Alert rules in the API: dry-runs and on-demand evaluation over stored history, using sentinel.alerts."""
