"""The versions that produced a request's output, as span attributes: the workflow (name,
version, content hash), the prompt template (name, version id, label) and the model.

One function, so every span that carries them names them alike.
"""

from __future__ import annotations

from opentelemetry.util.types import AttributeValue

from shared.contracts import Envelope, RunVersions, WorkflowPosition

WORKFLOW = "conduit.workflow"
WORKFLOW_VERSION = "conduit.workflow_version"
WORKFLOW_HASH = "conduit.workflow_hash"
PROMPT_TEMPLATE = "conduit.prompt.template"
PROMPT_VERSION = "conduit.prompt.version"
PROMPT_LABEL = "conduit.prompt.label"
MODEL = "conduit.model"


def version_attributes(envelope: Envelope) -> dict[str, AttributeValue]:
    """Every version known so far: the workflow position's and the run's."""
    return {**workflow_attributes(envelope.workflow), **run_attributes(envelope.versions)}


def workflow_attributes(workflow: WorkflowPosition) -> dict[str, AttributeValue]:
    return _present(
        {
            WORKFLOW: workflow.name,
            WORKFLOW_VERSION: workflow.version,
            WORKFLOW_HASH: workflow.content_hash,
        }
    )


def run_attributes(versions: RunVersions) -> dict[str, AttributeValue]:
    """The prompt version and model; one not chosen yet (no prompt built, no model called)
    is left out rather than written empty."""
    return _present(
        {
            PROMPT_TEMPLATE: versions.prompt_template,
            PROMPT_VERSION: versions.prompt_version,
            PROMPT_LABEL: versions.prompt_label,
            MODEL: versions.model,
        }
    )


def _present(candidates: dict[str, str]) -> dict[str, AttributeValue]:
    return {name: value for name, value in candidates.items() if value}
