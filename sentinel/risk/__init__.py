"""Risk math without Ray or xgboost: evaluation metrics, calibration, percentiles, trend and reasons."""
