"""The Kubernetes manifests (deploy/k8s) deploy this project as it is: the Serve config is configs/serve.yaml, the
image is built from the lock, and every command and import path they name exists.

No Kubernetes API server or container engine runs here, so the manifests are checked as data; the commands they
name are run for real by tests/cluster/test_readme_cluster_commands.py on a local multi-node Ray cluster."""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sentinel.settings import REPO_ROOT

K8S = REPO_ROOT / "deploy" / "k8s"
DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"


def _documents() -> list[dict[str, Any]]:
    paths = sorted(K8S.glob("*.yaml"))
    assert len(paths) >= 6, paths  # the manifests are read, not an empty folder
    return [doc for path in paths for doc in yaml.safe_load_all(path.read_text()) if doc]


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in _documents() if doc["kind"] == kind]


def _cluster_specs() -> Iterator[dict[str, Any]]:
    for service in _of_kind("RayService"):
        yield service["spec"]["rayClusterConfig"]
    for cluster in _of_kind("RayCluster"):
        yield cluster["spec"]


def _containers() -> Iterator[dict[str, Any]]:
    for spec in _cluster_specs():
        for group in [spec["headGroupSpec"], *spec["workerGroupSpecs"]]:
            yield from group["template"]["spec"]["containers"]
    for job in _of_kind("Job"):
        yield from job["spec"]["template"]["spec"]["containers"]


def _project() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def _locked(name: str) -> str:
    match = re.search(rf"^{re.escape(name)}==(\S+)$", (REPO_ROOT / "requirements.lock").read_text(), re.M)
    assert match, f"{name} is not pinned in requirements.lock"
    return match.group(1)


def test_the_rayservice_serves_exactly_configs_serve_yaml():
    (service,) = _of_kind("RayService")
    served = yaml.safe_load(service["spec"]["serveConfigV2"])
    assert served == yaml.safe_load((REPO_ROOT / "configs" / "serve.yaml").read_text())
    assert {app["name"] for app in served["applications"]} == {"vsentinel", "scheduler"}


@pytest.mark.parametrize(
    "application", yaml.safe_load((REPO_ROOT / "configs" / "serve.yaml").read_text())["applications"]
)
def test_every_serve_import_path_builds_an_application_from_its_args(application: dict[str, Any]):
    from ray.serve import Application

    module, _, attribute = application["import_path"].partition(":")
    builder = getattr(importlib.import_module(module), attribute)
    built = builder(application.get("args", {}))
    assert isinstance(built, Application)
    names = {d["name"] for d in application["deployments"]}
    assert names <= _deployment_names(built)


def _deployment_names(app: Any) -> set[str]:
    from ray.serve._private.build_app import build_app

    return {d.name for d in build_app(app, name="check").deployments}


def test_every_pod_runs_the_projects_image_at_its_version_with_the_locked_ray():
    version = _project()["project"]["version"]
    images = {c["image"] for c in _containers()}
    assert images == {f"registry.example.com/violation-sentinel:{version}"}
    assert {spec["rayVersion"] for spec in _cluster_specs()} == {_locked("ray")}


def test_every_ray_pod_reads_the_settings_and_no_pod_but_the_migration_holds_the_owners_login():
    (config_map,) = _of_kind("ConfigMap")
    for container in _containers():
        sources = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        assert config_map["metadata"]["name"] in sources
        if container["name"] == "migrate":
            assert sources == {config_map["metadata"]["name"], "violation-sentinel-owner"}
        else:
            assert sources == {config_map["metadata"]["name"], "violation-sentinel-secrets"}
            # Every Ray node writes Tune/Train results to VS_RAY_STORAGE: the shared volume, on every pod.
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert config_map["data"]["VS_RAY_STORAGE"] in mounts
    settings = config_map["data"]
    assert not any(word in key for key in settings for word in ("SECRET", "PASSWORD", "DATABASE_URL", "REDIS_URL"))
    assert settings["VS_ARTIFACT_STORE"].startswith("s3://")  # every node reads it


def test_the_image_is_built_from_the_lock_with_every_package_of_the_project():
    text = DOCKERFILE.read_text()
    assert "-r requirements.lock" in text
    python = re.search(r"^FROM python:(\d+\.\d+)", text, re.M)
    assert python and python.group(1) == "3.11" and "<3.12" in _project()["project"]["requires-python"]
    copied = set(re.findall(r"^COPY (\S+)/ \1/$", text, re.M))
    packages = {p.rstrip("*") for p in _project()["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages | {"configs"} <= copied
    assert all((REPO_ROOT / name).is_dir() for name in copied)
    assert f"uv=={_makefile_uv()}" in text.replace('"', "").replace("${UV_VERSION}", _makefile_uv())


def _makefile_uv() -> str:
    match = re.search(r"^UV_VERSION := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert match
    return match.group(1)


def _command_exists(argv: list[str]) -> None:
    if argv[:2] == ["python", "-m"]:
        spec = importlib.util.find_spec(argv[2])
        assert spec is not None and spec.origin, f"no module {argv[2]}"
        assert 'if __name__ == "__main__":' in Path(spec.origin).read_text(), f"{argv[2]} runs nothing"
        return
    import typer

    scripts = _project()["project"]["scripts"]
    assert argv[0] in scripts, f"{argv[0]} is not a console script of the project"
    module = scripts[argv[0]].partition(":")[0]
    main = importlib.import_module(module)
    command: Any = typer.main.get_command(main.app)
    words = [w for w in argv[1:] if not w.startswith("-")]
    for word in words:
        assert word in getattr(command, "commands", {}), f"{' '.join(argv)}: no {word!r}"
        command = command.commands[word]
    known = {opt for param in command.params for opt in getattr(param, "opts", [])}
    assert {w for w in argv[1:] if w.startswith("-")} <= known, f"{' '.join(argv)}: unknown option"


def test_every_job_runs_a_command_of_this_project():
    jobs = _of_kind("RayJob")
    assert {j["metadata"]["generateName"] for j in jobs} == {"violation-sentinel-score-", "violation-sentinel-train-"}
    clusters = {c["metadata"]["name"] for c in _of_kind("RayCluster")}
    for job in jobs:
        _command_exists(shlex.split(job["spec"]["entrypoint"]))
        assert job["spec"]["clusterSelector"]["ray.io/cluster"] in clusters
        env = yaml.safe_load(job["spec"].get("runtimeEnvYAML", "{}")).get("env_vars", {})
        from training.config import TrainingSettings

        assert {k.removeprefix("VS_TRAIN_").lower() for k in env} <= set(TrainingSettings.model_fields)
    for job in _of_kind("Job"):
        for container in job["spec"]["template"]["spec"]["containers"]:
            _command_exists(container["command"])


def test_clusters_autoscale_and_the_head_fits_the_scheduler():
    from cluster.scheduler import Scheduler

    scheduler_cpus = Scheduler._default_options["num_cpus"]
    for spec in _cluster_specs():
        assert spec["enableInTreeAutoscaling"] is True
        for group in spec["workerGroupSpecs"]:
            assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    (service,) = _of_kind("RayService")
    head = service["spec"]["rayClusterConfig"]["headGroupSpec"]["rayStartParams"]
    assert float(head["num-cpus"]) >= scheduler_cpus
    served = yaml.safe_load(service["spec"]["serveConfigV2"])
    biggest_worker = max(
        float(g["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"])
        for g in service["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    )
    for app in served["applications"]:
        for deployment in app["deployments"]:
            assert deployment["ray_actor_options"]["num_cpus"] <= biggest_worker
