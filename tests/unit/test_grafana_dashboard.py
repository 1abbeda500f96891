import json
import re

from prometheus_client import REGISTRY

import shared.telemetry.metrics  # noqa: F401 - registers the metrics the dashboard reads
from shared.config import repo_root

DASHBOARD = repo_root() / "charts" / "dashboards" / "conduit.json"


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def _exported_names() -> set[str]:
    """Series names the registry will expose, whether or not a value was recorded yet."""
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def test_every_dashboard_query_reads_a_metric_conduit_exports() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exported = _exported_names()
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bconduit_[a-z_]+", target["expr"])
    }
    assert used, "the dashboard queries no conduit metric"
    assert used <= exported, f"dashboard queries unknown metrics: {sorted(used - exported)}"
