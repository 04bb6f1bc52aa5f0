"""The compose file and the Kubernetes manifests agree with the code they deploy.

Neither can run here, so they are read as data and checked against the settings model,
the command line and the probe paths the processes serve:

* every ``PIPELINE_*`` variable they set names a field of ``pipeline.settings.Settings``;
* every secret setting (a ``SecretStr`` field) comes from a Kubernetes Secret, or in
  compose from the operator's environment, never from a literal or a ConfigMap;
* every Secret key referenced exists in the example Secret;
* probes ask for ``/health/live`` (liveness) and ``/health/ready`` (readiness) on the
  port the process serves them on, and the command-line options they rely on exist;
* the broker image is the Kafka version the project pins.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from pydantic import BaseModel, SecretStr

from devstack.local_kafka import kafka_version
from pipeline.health import LIVE_PATH, READY_PATH
from pipeline.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
PREFIX = "PIPELINE_"
# Read by the settings loader itself rather than being a field.
LOADER_VARIABLES = {"PIPELINE_CONFIG_FILE"}
INTERPOLATION = re.compile(r"^\$\{([A-Z0-9_]+)(:\?[^}]*)?\}$")


# -- the settings model ----------------------------------------------------------------


def _leaf_type(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) in (
        typing.Union,
    ):
        kept = [a for a in typing.get_args(annotation) if a is not type(None)]
        return kept[0] if len(kept) == 1 else annotation
    return annotation


def settings_field(variable: str) -> Any:
    """The annotation of the settings field ``variable`` sets; KeyError if none."""
    path = variable.removeprefix(PREFIX).lower().split("__")
    model: type[BaseModel] = Settings
    annotation: Any = None
    for position, name in enumerate(path):
        if annotation is not None and typing.get_origin(annotation) is dict:
            # A mapping setting takes one more segment: its key.
            if position != len(path) - 1:
                raise KeyError(variable)
            return typing.get_args(annotation)[1]
        if name not in model.model_fields:
            raise KeyError(variable)
        annotation = _leaf_type(model.model_fields[name].annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
            if position == len(path) - 1:
                raise KeyError(f"{variable} names a section, not a field")
    return annotation


def is_secret(variable: str) -> bool:
    annotation = settings_field(variable)
    if typing.get_origin(annotation) is dict:
        return typing.get_args(annotation)[1] is SecretStr
    return annotation is SecretStr


def test_the_walk_knows_real_fields_and_secrets() -> None:
    assert is_secret("PIPELINE_ODOO__API_KEY")
    assert is_secret("PIPELINE_KAFKA__SASL_PASSWORD")
    assert is_secret("PIPELINE_INGEST__WEBHOOK_SECRETS__BILLING")
    assert not is_secret("PIPELINE_KAFKA__BOOTSTRAP_SERVERS")
    for unknown in ("PIPELINE_KAFKA__BOOTSTRAP", "PIPELINE_ODOO", "PIPELINE_NOPE__X"):
        with pytest.raises(KeyError):
            settings_field(unknown)


# -- Kubernetes ---------------------------------------------------------------------


def k8s_documents() -> list[dict[str, Any]]:
    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in k8s_documents() if d["kind"] == kind]


def workloads() -> Iterator[tuple[str, dict[str, Any]]]:
    for document in of_kind("Deployment") + of_kind("Job"):
        for container in document["spec"]["template"]["spec"]["containers"]:
            yield document["metadata"]["name"], container


def config_map() -> dict[str, str]:
    [config] = of_kind("ConfigMap")
    return config["data"]


def example_secret_keys() -> set[str]:
    [secret] = of_kind("Secret")
    return set(secret["stringData"])


def test_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present - {"secret.example.yaml"}


def test_k8s_sets_only_real_settings_and_no_secret_in_the_config_map() -> None:
    for variable in config_map():
        settings_field(variable)
        assert not is_secret(variable), f"{variable} is a secret in a ConfigMap"
    for workload, container in workloads():
        for entry in container.get("env", []):
            name = entry["name"]
            if not name.startswith(PREFIX) or name in LOADER_VARIABLES:
                continue
            settings_field(name)
            if is_secret(name):
                reference = entry.get("valueFrom", {}).get("secretKeyRef")
                assert reference, f"{workload}: {name} must come from a Secret"
                assert reference["name"] == "pipeline-secrets"
                assert reference["key"] in example_secret_keys(), (workload, name)
            else:
                assert "value" in entry, (workload, name)


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        assert source["configMapRef"]["name"] == "pipeline-config"
        settings |= config_map()
    return settings | {entry["name"]: entry for entry in container.get("env", [])}


def test_each_k8s_stage_gets_the_secrets_it_needs() -> None:
    needs = {
        "pipeline-odoo-sink": {
            "PIPELINE_ODOO__API_KEY",
            "PIPELINE_KAFKA__SASL_PASSWORD",
        },
        "pipeline-webhooks": {
            "PIPELINE_KAFKA__SASL_PASSWORD",
            "PIPELINE_INGEST__WEBHOOK_SECRETS__BILLING",
            "PIPELINE_INGEST__WEBHOOK_SECRETS__PRODUCT",
            "PIPELINE_INGEST__WEBHOOK_SECRETS__HELPDESK",
        },
        "pipeline-processors": {"PIPELINE_KAFKA__SASL_PASSWORD"},
        "pipeline-topics-apply": {"PIPELINE_KAFKA__SASL_PASSWORD"},
    }
    containers = dict(workloads())
    assert set(containers) == set(needs)
    for workload, secrets in needs.items():
        env = env_of(containers[workload])
        assert secrets <= set(env), workload
        # Each stage is its own Kafka principal (docs/security.md).
        assert env["PIPELINE_KAFKA__SASL_USERNAME"]["value"].startswith("pipeline-")
    usernames = [
        env_of(c)["PIPELINE_KAFKA__SASL_USERNAME"]["value"] for c in containers.values()
    ]
    assert len(set(usernames)) == len(usernames)


def option_value(arguments: list[str], option: str) -> str:
    return arguments[arguments.index(option) + 1]


def served_port(workload: str, container: dict[str, Any]) -> int:
    """Where the process of ``container`` serves its probes, from its own settings."""
    env = env_of(container)
    command = container["args"][0]
    if command == "webhooks":
        return int(env["PIPELINE_INGEST__WEBHOOK_PORT"])
    if command == "sink":
        assert option_value(container["args"], "--health-host") == "0.0.0.0"
        return int(option_value(container["args"], "--health-port"))
    if command == "process":
        return int(env["PIPELINE_PROCESSORS__WEB_PORT"])
    raise AssertionError(f"{workload}: no probes expected for {command}")


def probe_target(probe: dict[str, Any]) -> tuple[str, int]:
    if "httpGet" in probe:
        return probe["httpGet"]["path"], int(probe["httpGet"]["port"])
    command = probe["exec"]["command"]
    assert command[:3] == ["python", "-m", "pipeline.health"], command
    return option_value(command, "--path"), int(option_value(command, "--port"))


def test_k8s_probes_ask_the_port_and_paths_the_process_serves() -> None:
    for document in of_kind("Deployment"):
        workload = document["metadata"]["name"]
        [container] = document["spec"]["template"]["spec"]["containers"]
        port = served_port(workload, container)
        assert probe_target(container["livenessProbe"]) == (LIVE_PATH, port), workload
        assert probe_target(container["readinessProbe"]) == (READY_PATH, port)
        if "startupProbe" in container:
            assert probe_target(container["startupProbe"])[1] == port
        assert container["resources"]["requests"]["cpu"]
        assert container["resources"]["requests"]["memory"]
        if container["args"][0] == "webhooks":
            # Reachable from the kubelet and the Service, not only from loopback.
            assert env_of(container)["PIPELINE_INGEST__WEBHOOK_HOST"] == "0.0.0.0"


def pipeline_command(arguments: list[str]) -> Any:
    """The click command ``pipeline <arguments>`` runs (typer may bundle its own
    click, so groups are told apart by their ``commands``)."""
    from pipeline.cli import app

    command: Any = typer.main.get_command(app)
    for word in arguments:
        if word not in getattr(command, "commands", {}):
            break
        command = command.commands[word]
    return command


def test_every_option_the_manifests_pass_exists() -> None:
    runs = [container["args"] for _, container in workloads()]
    runs += [
        service["command"]
        for name, service in compose()["services"].items()
        if name not in ("kafka", "odoo-standin")
    ]
    for arguments in runs:
        command = pipeline_command(arguments)
        assert not hasattr(command, "commands"), f"unknown command in {arguments}"
        known = {opt for param in command.params for opt in param.opts}
        options = [a for a in arguments if a.startswith("--")]
        assert set(options) <= known, (arguments, known)


# -- compose ------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_sets_only_real_settings_and_secrets_from_the_environment() -> None:
    for service_name, service in compose()["services"].items():
        for name, value in (service.get("environment") or {}).items():
            if not name.startswith(PREFIX):
                continue
            settings_field(name)
            if is_secret(name):
                match = INTERPOLATION.match(str(value))
                # `${NAME:?message}`: taken from the operator, refused when missing,
                # never a default written in the file.
                assert match and match.group(2), f"{service_name}: {name}={value!r}"
                assert match.group(1) == name


def test_compose_healthchecks_ask_the_port_the_process_serves() -> None:
    services = compose()["services"]
    expected = {
        "processors": int(
            services["processors"]["environment"]["PIPELINE_PROCESSORS__WEB_PORT"]
        ),
        "odoo-sink": int(
            option_value(services["odoo-sink"]["command"], "--health-port")
        ),
        "webhooks": int(
            services["webhooks"]["environment"]["PIPELINE_INGEST__WEBHOOK_PORT"]
        ),
    }
    for name, port in expected.items():
        test = services[name]["healthcheck"]["test"]
        assert test[0] == "CMD"
        assert probe_target({"exec": {"command": test[1:]}}) == (READY_PATH, port)


def test_compose_broker_is_the_pinned_kafka_version() -> None:
    assert compose()["services"]["kafka"]["image"] == f"apache/kafka:{kafka_version()}"
