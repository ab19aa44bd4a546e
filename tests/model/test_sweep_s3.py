"""Ray Tune and Train keep their storage in a bucket every node reads: a sweep with `ray_storage` an s3:// URI
writes its checkpoint there (over S3's wire protocol, tests/s3.py) and the best model is loaded back from it; so
does a single Train run."""

from __future__ import annotations

import pytest

from sentinel.settings import load_settings
from tests.model.test_sweep import _fit_data
from tests.s3 import running_s3
from training import distributed
from training.config import load_training_settings

pytestmark = pytest.mark.integration


def test_a_sweep_keeps_its_checkpoint_in_a_bucket_and_loads_the_best_model_from_it(ray_cluster, monkeypatch):
    with running_s3() as s3:
        # The driver's own environment, as on a cluster (README: the endpoint and keys in AWS_* variables); the
        # shared Ray of the tests was started without them, so the Train run's processes get them from the driver.
        for key, value in s3.env.items():
            monkeypatch.setenv(key, value)
        storage = load_settings(ray_storage=s3.bucket("vs-ray") + "/runs/").resolved_ray_storage
        assert storage == "s3://vs-ray/runs"
        settings = load_training_settings(workers=1, num_boost_round=10, report_every=5, max_concurrent_trials=1)
        settings = settings.model_copy(update={"search_space": {"eta": {"grid": [0.3]}}})
        result = distributed.sweep(_fit_data(), settings, storage, "bucket", samples=1)
        assert result.trials == 1 and result.trials_stopped_early == 0
        assert result.booster.num_boosted_rounds() == 10
        # The single Train run that fits the other scores (training.pipeline) keeps its checkpoint there too.
        fitted = distributed.fit(_fit_data(), settings.params(), settings, storage, "fit")
        assert fitted["overall"].num_boosted_rounds() == 10
        keys = [
            item["Key"]
            for page in s3.client().get_paginator("list_objects_v2").paginate(Bucket="vs-ray", Prefix="runs/")
            for item in page.get("Contents", [])
        ]
        for run in ("bucket/train/", "fit/"):
            assert any(key.startswith(f"runs/{run}") and key.endswith("/model-overall.ubj") for key in keys), keys
        # The keys travel as environment variables only: none is written into the storage (Tune pickles its run
        # config there, and the Train runs' shape carries them).
        secret = s3.env["AWS_SECRET_ACCESS_KEY"].encode()
        assert not [key for key in keys if secret in s3.client().get_object(Bucket="vs-ray", Key=key)["Body"].read()]
