"""The deploy recipe, checked by real validators and against the Dockerfile it deploys.

cfn-lint (CloudFormation), kubernetes-validate (Kubernetes' own OpenAPI schemas, bundled:
no cluster, no network), hadolint (the Dockerfile) and check-jsonschema's bundled GitHub
workflow schema (.github/workflows/).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from cfnlint.decode import decode

from tests.conftest import REPO
from tests.deploy.dockerfile import Image, read_image

BIN = Path(sys.executable).parent
TEMPLATE = REPO / "deploy" / "aws" / "taxonomist-ecs.yaml"
MANIFEST = REPO / "deploy" / "kubernetes" / "taxonomist.yaml"
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
# The oldest Kubernetes the big clouds still run, and the newest the validator knows.
KUBERNETES = ("1.29.0", kubernetes_validate.utils.latest_version())


@pytest.fixture(scope="module")
def image() -> Image:
    return read_image(REPO / "Dockerfile")


def validator(*command: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / str(command[0])), *map(str, command[1:])],
                          capture_output=True, text=True, timeout=120)


def test_the_cloudformation_template_passes_cfn_lint() -> None:
    found = validator("cfn-lint", TEMPLATE)
    assert found.returncode == 0, found.stdout + found.stderr


def test_the_load_balancer_checks_health_on_the_images_port(image: Image) -> None:
    template, problems = decode(str(TEMPLATE))
    assert not problems, problems
    resources, parameters = template["Resources"], template["Parameters"]
    target = resources["TargetGroup"]["Properties"]
    assert target["HealthCheckPath"] == "/health" and target["Matcher"] == {"HttpCode": "200"}
    assert str(parameters["ContainerPort"]["Default"]) == image.exposed
    container = resources["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert container["HealthCheck"]["Command"] == ["CMD", *image.healthcheck]
    names = {variable["Name"] for variable in container["Environment"]}
    assert {"MLFLOW_TRACKING_URI", "TAXONOMIST_SERVE_HOST", "TAXONOMIST_SERVE_PORT"} <= names


def manifests() -> list[dict]:
    return list(yaml.safe_load_all(MANIFEST.read_text()))


@pytest.mark.parametrize("version", KUBERNETES)
def test_the_kubernetes_manifest_matches_the_schemas(version: str) -> None:
    for resource in manifests():
        kubernetes_validate.validate(resource, version, strict=True)  # raises if invalid


def test_the_pods_are_probed_on_health_and_run_as_the_images_user(image: Image) -> None:
    by_kind = {resource["kind"]: resource for resource in manifests()}
    pod = by_kind["Deployment"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        check = container[probe]["httpGet"]
        assert check["path"] == "/health" and str(ports[check["port"]]) == image.exposed
    assert str(pod["spec"]["securityContext"]["runAsUser"]) == image.user.split(":")[0]
    service = by_kind["Service"]["spec"]
    assert service["selector"].items() <= pod["metadata"]["labels"].items()
    assert service["ports"][0]["targetPort"] in ports


def test_the_dockerfile_passes_hadolint() -> None:
    found = validator("hadolint", REPO / "Dockerfile")
    assert found.returncode == 0, found.stdout + found.stderr


def test_the_image_is_multi_stage_non_root_and_checks_health(image: Image) -> None:
    assert image.stages >= 2
    assert image.user.split(":")[0] not in ("", "0", "root")
    assert any("/health" in part for part in image.healthcheck)
    assert "download.pytorch.org/whl/cpu" in image.args["TORCH_INDEX"]
    assert any('--index-url "$TORCH_INDEX" torch' in run for run in image.runs)
    assert "MLFLOW_TRACKING_URI" not in image.env  # given at run time, never baked in


def test_the_workflows_pass_githubs_schema() -> None:
    found = validator("check-jsonschema", "--builtin-schema", "vendor.github-workflows",
                      *WORKFLOWS)
    assert found.returncode == 0, found.stdout + found.stderr


def workflow_commands(name: str) -> dict[str, list[str]]:
    """Each job's ``run`` commands in .github/workflows/NAME.yml, one per line."""
    jobs = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())["jobs"]
    return {job: [line.strip() for step in spec["steps"]
                  for line in step.get("run", "").splitlines() if line.strip()]
            for job, spec in jobs.items()}


def test_the_hosted_ci_runs_the_same_entry_point_as_every_ci() -> None:
    """GitHub's job runs .ci/run, which installs what the tests need before `make test`;
    a bare `make test` on a runner without TeX, a browser or PostgreSQL fails or skips."""
    commands = workflow_commands("ci.yml")
    assert commands["test"][-1] == ".ci/run" and "make test" not in commands["test"]
    ci_run = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert ci_run[-1] == "make test" and ci_run[0] == "#!/usr/bin/env bash"
    assert any(command.startswith("docker build") for command in commands["image"])
