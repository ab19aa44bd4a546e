"""Training: dataset building, distributed XGBoost with Ray Train and Tune, evaluation, registry, batch scoring."""
