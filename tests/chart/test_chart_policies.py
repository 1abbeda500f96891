"""The policies the chart promises, for every values set: hardened pods with limits and
probes, replica caps within the partitions, deny-by-default networking with egress only to
what each service declares, secrets by reference, Triton on GPU nodes when asked."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from shared.config import repo_root
from tests.chart.rendering import (
    RELEASE,
    VALUES_SETS,
    Manifest,
    Rendered,
    merged_values,
    render,
    run_helm,
)

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
DNS_PORT = 53
# The settings values.yaml `secrets` fills, which must only ever come from Secrets.
SECRET_SETTINGS = {
    "CONDUIT_PRINCIPAL_KEY",
    "CONDUIT_MEMORY_URL",
    "CONDUIT_PII_VAULT_PUBLIC_KEY",
    "CONDUIT_TOOL_EXECUTOR_PII_VAULT_PRIVATE_KEY",
    "CONDUIT_GATEWAY_JWT_SECRET",
}


def _pods(rendered: Rendered) -> Iterator[tuple[str, Manifest]]:
    for kind in WORKLOADS:
        for workload in rendered.of_kind(kind):
            yield workload["metadata"]["name"], workload["spec"]["template"]["spec"]


def _step_services(rendered: Rendered) -> list[str]:
    services: dict[str, Any] = rendered.values["services"]
    return [name for name, spec in services.items() if spec.get("kind", "step") == "step"]


def _scaled_step_services(rendered: Rendered) -> list[str]:
    if not rendered.values["autoscaling"]["enabled"]:
        return []
    services = rendered.values["services"]
    return [
        name
        for name in _step_services(rendered)
        if (services[name].get("scaling") or {}).get("enabled", True)
    ]


def _consumed_topic(name: str, spec: Manifest) -> str | None:
    """The topic (after the prefix) a service's scaling watches, as values.yaml describes."""
    scaling = spec.get("scaling") or {}
    if "topic" in scaling:
        return str(scaling["topic"])
    steps = spec.get("kind", "step") == "step" and spec.get("consumesSteps", True)
    return f"step.{name}" if steps else None


def test_every_pod_runs_as_non_root_without_privileges(rendered: Rendered) -> None:
    for name, pod in _pods(rendered):
        assert pod["securityContext"].get("runAsNonRoot") is True, f"{name} may run as root"
        for container in pod["containers"]:
            context = container.get("securityContext", {})
            assert context.get("allowPrivilegeEscalation") is False, f"{name} may escalate"
            assert context.get("readOnlyRootFilesystem") is True, f"{name} root fs is writable"
            assert context.get("capabilities", {}).get("drop") == ["ALL"], (
                f"{name} keeps Linux capabilities"
            )


def test_every_container_has_cpu_and_memory_requests_and_limits(rendered: Rendered) -> None:
    for name, pod in _pods(rendered):
        for container in pod["containers"]:
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                missing = {"cpu", "memory"} - set(resources.get(bound, {}))
                assert not missing, f"{rendered.name}: {name} has no {bound} for {missing}"


def test_every_container_has_liveness_and_readiness_probes(rendered: Rendered) -> None:
    for name, pod in _pods(rendered):
        for container in pod["containers"]:
            for probe in ("livenessProbe", "readinessProbe"):
                assert probe in container, f"{rendered.name}: {name} has no {probe}"


def test_conduit_services_are_probed_on_their_health_endpoints(rendered: Rendered) -> None:
    for service in rendered.values["services"]:
        deployment = rendered.named("Deployment", f"{RELEASE}-{service}")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        paths = {
            probe: container[probe]["httpGet"]["path"]
            for probe in ("startupProbe", "livenessProbe", "readinessProbe")
        }
        assert paths == {
            "startupProbe": "/readyz",
            "livenessProbe": "/healthz",
            "readinessProbe": "/readyz",
        }, f"{service}: probes {paths}"


def test_every_step_service_serves_metrics_and_probes_on_the_same_port(
    rendered: Rendered,
) -> None:
    port = rendered.values["metricsPort"]
    for service in _step_services(rendered):
        config = rendered.named("ConfigMap", f"{RELEASE}-{service}")["data"]
        assert config.get("CONDUIT_METRICS_PORT") == str(port), (
            f"{service} does not serve /metrics, /healthz and /readyz on {port}"
        )


def test_every_scaled_service_caps_replicas_at_the_partition_count(rendered: Rendered) -> None:
    partitions = rendered.values["kafka"]["partitions"]
    for scaled in rendered.of_kind("ScaledObject"):
        kafka = [t for t in scaled["spec"]["triggers"] if t["type"] == "kafka"]
        if kafka:
            cap = scaled["spec"]["maxReplicaCount"]
            assert cap <= partitions, (
                f"{rendered.name}: {scaled['metadata']['name']} scales to {cap} consumers "
                f"on {partitions} partitions"
            )


def test_every_scaled_service_scales_on_the_lag_of_the_topic_it_consumes(
    rendered: Rendered,
) -> None:
    prefix = rendered.values["kafka"]["topicPrefix"]
    for service in _scaled_step_services(rendered):
        spec = rendered.values["services"][service]
        scaling = spec.get("scaling") or {}
        scaled = rendered.named("ScaledObject", f"{RELEASE}-{service}")
        (kafka,) = [t["metadata"] for t in scaled["spec"]["triggers"] if t["type"] == "kafka"]
        topic = f"{prefix}.{_consumed_topic(service, spec)}"
        assert kafka["topic"] == topic, f"{service}: lag of {kafka['topic']}, not {topic}"
        group = scaling.get("consumerGroup", service)
        assert kafka["consumerGroup"] == group, f"{service}: group {kafka['consumerGroup']}"
        assert kafka["excludePersistentLag"] == "true", (
            f"{service}: a stuck partition's lag would add replicas that cannot help"
        )


def test_every_scaled_service_that_handles_steps_also_scales_on_queue_wait(
    rendered: Rendered,
) -> None:
    exported = _exported_queue_wait_bucket()
    for service in _scaled_step_services(rendered):
        handles_steps = rendered.values["services"][service].get("consumesSteps", True)
        scaled = rendered.named("ScaledObject", f"{RELEASE}-{service}")
        queries = [
            t["metadata"]["query"] for t in scaled["spec"]["triggers"] if t["type"] == "prometheus"
        ]
        if not handles_steps:
            assert queries == [], f"{service} records no queue wait, yet scales on it"
            continue
        assert len(queries) == 1, f"{service}: {len(queries)} queue-wait triggers"
        assert exported in queries[0], f"{service}: the query reads no {exported}: {queries[0]}"


def test_a_deployment_of_another_process_runs_that_process_and_its_image(helm: Path) -> None:
    built = Rendered("built", {}, render(helm, sets=["services.retrieval.image=registry/r:abc"]))
    for entry in ("retrieval", "retrieval-ingest"):
        deployment = built.named("Deployment", f"{RELEASE}-{entry}")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "registry/r:abc", f"{entry} runs {container['image']}"
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["CONDUIT_SERVICE"] == "retrieval", f"{entry} runs {env['CONDUIT_SERVICE']}"


def test_strimzi_topics_have_the_partitions_the_replica_caps_rely_on(helm: Path) -> None:
    local = Rendered("local", {}, render(helm, VALUES_SETS["local"]))
    topics = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in local.of_kind("KafkaTopic")}
    services = merged_values(VALUES_SETS["local"])["services"]
    consumed = {_consumed_topic(name, spec) for name, spec in services.items()} - {None}
    assert topics == {f"conduit.{topic}": 1 for topic in consumed}, topics


@cache
def _exported_queue_wait_bucket() -> str:
    """The bucket series of conduit.queue.wait as the runtime's Prometheus endpoint names it,
    read from a process of its own (one meter provider per process)."""
    script = (
        "from opentelemetry import metrics\n"
        "from opentelemetry.exporter.prometheus import PrometheusMetricReader\n"
        "from opentelemetry.sdk.metrics import MeterProvider\n"
        "from prometheus_client import generate_latest\n"
        "metrics.set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))\n"
        "from shared.telemetry.metrics import QUEUE_WAIT\n"
        "QUEUE_WAIT.record(1.0, {'service': 's', 'topic': 't'})\n"
        "print(generate_latest().decode())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=repo_root(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    names = {line.split("{")[0] for line in done.stdout.splitlines() if "_bucket{" in line}
    assert len(names) == 1, f"expected one histogram in the exposition, got {names}"
    return names.pop()


def test_the_gateway_scales_on_cpu_with_an_hpa_where_autoscaling_is_on(
    rendered: Rendered,
) -> None:
    hpas = list(rendered.of_kind("HorizontalPodAutoscaler"))
    if rendered.values["services"]["gateway"].get("hpa") is None:
        assert hpas == [], f"{rendered.name}: an HPA without gateway.hpa"
        return
    (hpa,) = hpas
    assert hpa["spec"]["scaleTargetRef"]["name"] == f"{RELEASE}-gateway"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_replicas_above_the_partition_count_fail_the_render_with_the_reason(helm: Path) -> None:
    too_many = ["kafka.partitions=3", "services.intent.scaling.maxReplicas=4"]
    done = run_helm(helm, "template", sets=too_many)
    assert done.returncode != 0, "a consumer group of 4 on 3 partitions rendered"
    assert "intent: maxReplicas 4 exceeds kafka.partitions 3" in done.stderr, done.stderr


def test_default_deny_selects_every_pod_in_both_directions(rendered: Rendered) -> None:
    deny = rendered.named("NetworkPolicy", f"{RELEASE}-default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, (
        f"{rendered.name}: the default policy is not a deny-all: {deny['spec']}"
    )


def test_an_endpoint_without_peers_fails_the_render_instead_of_opening_its_ports(
    helm: Path,
) -> None:
    done = run_helm(helm, "template", sets=["endpoints.tools.peers=null"])
    assert done.returncode != 0, "an egress rule without peers (to everything) rendered"
    assert "endpoints.tools has no peers" in done.stderr, done.stderr


def test_no_egress_rule_is_open_to_every_destination(rendered: Rendered) -> None:
    for policy in rendered.of_kind("NetworkPolicy"):
        for rule in policy["spec"].get("egress", []):
            assert rule.get("to"), f"{rendered.name}: {policy['metadata']['name']} egress {rule}"


def test_each_service_reaches_only_dns_and_the_endpoints_it_declares(rendered: Rendered) -> None:
    endpoints = rendered.values["endpoints"]
    for service, spec in rendered.values["services"].items():
        reaches = list(spec["reaches"])
        if rendered.values["tracing"]["enabled"]:
            reaches.append("tracing")
        allowed = {DNS_PORT} | {port for name in reaches for port in endpoints[name]["ports"]}
        policy = rendered.named("NetworkPolicy", f"{RELEASE}-{service}")
        ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
        assert ports == allowed, f"{rendered.name}: {service} egress ports {ports}, not {allowed}"


def test_only_the_gateway_takes_traffic_from_outside_the_monitoring_namespace(
    rendered: Rendered,
) -> None:
    for service in rendered.values["services"]:
        policy = rendered.named("NetworkPolicy", f"{RELEASE}-{service}")
        for rule in policy["spec"]["ingress"]:
            if service == "gateway":
                continue
            assert rule.get("from"), f"{rendered.name}: {service} takes ingress from anywhere"


def test_secrets_are_referenced_never_rendered(rendered: Rendered) -> None:
    assert list(rendered.of_kind("Secret")) == [], f"{rendered.name} renders a Secret"
    for config in rendered.of_kind("ConfigMap"):
        inline = SECRET_SETTINGS & set(config.get("data", {}))
        assert not inline, f"{rendered.name}: {config['metadata']['name']} carries {inline}"


def test_production_takes_each_secret_from_its_secret_where_it_is_needed(helm: Path) -> None:
    production = Rendered("production", {}, render(helm, VALUES_SETS["production"]))
    everyone = {"CONDUIT_PRINCIPAL_KEY"}
    expected = {
        "gateway": everyone
        | {"CONDUIT_MEMORY_URL", "CONDUIT_PII_VAULT_PUBLIC_KEY", "CONDUIT_GATEWAY_JWT_SECRET"},
        "tool-executor": everyone | {"CONDUIT_TOOL_EXECUTOR_PII_VAULT_PRIVATE_KEY"},
        "intent": everyone | {"CONDUIT_MEMORY_URL"},
        "guardrail": everyone,
        "inference": everyone,
    }
    for service, names in expected.items():
        deployment = production.named("Deployment", f"{RELEASE}-{service}")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        referenced = {
            e["name"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert referenced == names, f"{service} takes {referenced} from Secrets, not {names}"


def test_the_config_configmap_carries_every_file_of_config_unchanged(rendered: Rendered) -> None:
    config_dir = repo_root() / "config"
    data = rendered.named("ConfigMap", f"{RELEASE}-config")["data"]
    files = {
        str(path.relative_to(config_dir)).replace("/", "__"): path.read_text()
        for path in sorted(config_dir.rglob("*"))
        if path.is_file()
    }
    assert set(data) == set(files), f"drifted: {set(data) ^ set(files)}"
    changed = [key for key, text in files.items() if data[key] != text]
    assert not changed, f"config files differ from config/: {changed}"


def test_triton_without_gpu_values_asks_for_no_gpu(helm: Path) -> None:
    default = Rendered("default", {}, render(helm))
    pod = default.named("Deployment", f"{RELEASE}-triton")["spec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"], "GPU asked for"
    assert "nodeSelector" not in pod, "CPU Triton is pinned to GPU nodes"


@pytest.mark.parametrize("values_set", ["gpu", "production+gpu"])
def test_gpu_values_place_triton_on_gpu_nodes_with_a_gpu_limit(helm: Path, values_set: str) -> None:
    gpu = Rendered(values_set, {}, render(helm, VALUES_SETS[values_set]))
    pod = gpu.named("Deployment", f"{RELEASE}-triton")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"].get("nvidia.com/gpu") == 1, "no GPU asked for"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}, pod.get("nodeSelector")
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ], "the GPU nodes' taint is not tolerated"
    assert "--load-model=smollm2_gpu" in container["args"], "the GPU model is not loaded"
