"""The deploy recipe, checked by real validators and against the Dockerfile it deploys.

cfn-lint (CloudFormation), kubernetes-validate (Kubernetes' own OpenAPI schemas, bundled:
no cluster, no network), hadolint (the Dockerfile) and check-jsonschema's bundled GitHub
workflow schema (.github/workflows/).
"""

from __future__ import annotations

import copy as copy_module
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


# The recipes run the server locked down: read-only root filesystem (a writable /tmp),
# non-root, no capabilities, no privilege escalation, the API keys from a secret. Each
# check is shown to catch its weakening before it passes the recipe as written.

def k8s_problems(deployment: dict) -> list[str]:
    """What leaves the Deployment's pods less locked down than they should be."""
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    context = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    env = {e["name"]: e for e in container.get("env", [])}
    keys_file = env.get("TAXONOMIST_SERVE_KEYS_FILE", {}).get("value", "")
    keys_volume = next((volumes[n] for p, n in mounts.items() if keys_file.startswith(p + "/")),
                       {})
    return [problem for problem, bad in [
        ("root filesystem writable", context.get("readOnlyRootFilesystem") is not True),
        ("may run as root", context.get("runAsNonRoot") is not True
         or context.get("runAsUser") in (0, None)),
        ("privilege escalation allowed", context.get("allowPrivilegeEscalation") is not False),
        ("privileged", context.get("privileged") is True),
        ("capabilities kept", context.get("capabilities", {}).get("drop") != ["ALL"]
         or context.get("capabilities", {}).get("add")),
        ("no writable /tmp", "emptyDir" not in volumes.get(mounts.get("/tmp", ""), {})),
        ("keys not from a Secret volume", "secret" not in keys_volume),
        ("keys in the manifest", "TAXONOMIST_API_KEYS" in env),
    ] if bad]


def ecs_problems(container: dict, volumes: list[dict]) -> list[str]:
    """What leaves the ECS container less locked down than it should be."""
    mounts = {m["ContainerPath"]: m["SourceVolume"] for m in container.get("MountPoints", [])}
    secrets = {s["Name"] for s in container.get("Secrets", [])}
    environment = {e["Name"] for e in container.get("Environment", [])}
    capabilities = container.get("LinuxParameters", {}).get("Capabilities", {})
    return [problem for problem, bad in [
        ("root filesystem writable", container.get("ReadonlyRootFilesystem") is not True),
        ("may run as root", str(container.get("User", "0")).split(":")[0] in ("0", "root")),
        ("privileged", container.get("Privileged") is True),
        ("capabilities kept", capabilities.get("Drop") != ["ALL"] or capabilities.get("Add")),
        ("no writable /tmp", mounts.get("/tmp") not in {v["Name"] for v in volumes}),
        ("keys not from a secret", "TAXONOMIST_API_KEYS" not in secrets),
        ("keys in the template", "TAXONOMIST_API_KEYS" in environment),
    ] if bad]


def deployment() -> dict:
    return next(r for r in manifests() if r["kind"] == "Deployment")


def task_definition() -> tuple[dict, list[dict]]:
    template, problems = decode(str(TEMPLATE))
    assert not problems, problems
    task = template["Resources"]["TaskDefinition"]["Properties"]
    return task["ContainerDefinitions"][0], task.get("Volumes", [])


def weakened(resource: dict, change) -> dict:
    copy = copy_module.deepcopy(resource)
    change(copy)
    return copy


def _k8s_container(d: dict) -> dict:
    return d["spec"]["template"]["spec"]["containers"][0]


K8S_WEAKENINGS = {
    "root filesystem writable": lambda d: _k8s_container(d)["securityContext"].pop(
        "readOnlyRootFilesystem"),
    "may run as root": lambda d: d["spec"]["template"]["spec"]["securityContext"].update(
        runAsUser=0),
    "privilege escalation allowed": lambda d: _k8s_container(d)["securityContext"].update(
        allowPrivilegeEscalation=True),
    "capabilities kept": lambda d: _k8s_container(d)["securityContext"].update(
        capabilities={"drop": ["ALL"], "add": ["NET_ADMIN"]}),
    "no writable /tmp": lambda d: _k8s_container(d)["volumeMounts"].pop(),
    "privileged": lambda d: _k8s_container(d)["securityContext"].update(privileged=True),
    "keys not from a Secret volume": lambda d: d["spec"]["template"]["spec"]["volumes"][0]
    .pop("secret"),
    "keys in the manifest": lambda d: _k8s_container(d)["env"].append(
        {"name": "TAXONOMIST_API_KEYS", "value": "web: {...}"}),
}
ECS_WEAKENINGS = {
    "root filesystem writable": lambda c: c.update(ReadonlyRootFilesystem=False),
    "may run as root": lambda c: c.update(User="0"),
    "capabilities kept": lambda c: c.pop("LinuxParameters"),
    "privileged": lambda c: c.update(Privileged=True),
    "no writable /tmp": lambda c: c.pop("MountPoints"),
    "keys not from a secret": lambda c: c.pop("Secrets"),
    "keys in the template": lambda c: c["Environment"].append(
        {"Name": "TAXONOMIST_API_KEYS", "Value": "web: {...}"}),
}


def test_the_kubernetes_pods_are_locked_down() -> None:
    assert k8s_problems(deployment()) == []


@pytest.mark.parametrize("problem", list(K8S_WEAKENINGS))
def test_the_kubernetes_check_catches(problem: str) -> None:
    weak = weakened(deployment(), K8S_WEAKENINGS[problem])
    assert problem in k8s_problems(weak)


def test_the_ecs_tasks_are_locked_down() -> None:
    container, volumes = task_definition()
    assert ecs_problems(container, volumes) == []


@pytest.mark.parametrize("problem", list(ECS_WEAKENINGS))
def test_the_ecs_check_catches(problem: str) -> None:
    container, volumes = task_definition()
    assert problem in ecs_problems(weakened(container, ECS_WEAKENINGS[problem]), volumes)


def test_the_image_keeps_no_keys_and_writes_only_under_tmp(image: Image) -> None:
    assert not {"TAXONOMIST_API_KEYS", "TAXONOMIST_SERVE_KEYS_FILE"} & set(image.env)
    assert image.env["MPLCONFIGDIR"].startswith("/tmp/")  # matplotlib's cache, else in HOME
    assert image.env["TAXONOMIST_SERVE_HOST"] == "0.0.0.0"  # so keys are demanded at start
