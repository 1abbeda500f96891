"""Who is reporting: the OpenTelemetry resource shared by a service's traces and metrics."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource

NAMESPACE = "conduit"


def service_resource(service_name: str) -> Resource:
    return Resource.create({"service.name": service_name, "service.namespace": NAMESPACE})
