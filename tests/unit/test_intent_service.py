"""Intent service: the catalog file, classification accuracy, fallback, and the step handler."""

from pathlib import Path

import pytest
import yaml

from services.intent.catalog import IntentCatalog, load_intent_catalog
from services.intent.classifier import IntentClassifier
from services.intent.service import IntentStep, build
from shared.config import ConduitSettings, ConfigFileError
from shared.contracts import Entity, StepEvent, UserRequest, new_envelope
from shared.embeddings import default_embedder
from shared.runtime import StepCall

EVAL_SET = Path(__file__).parents[1] / "data" / "intent_eval.yaml"
FALLBACK = "fallback"


@pytest.fixture(scope="module")
def catalog() -> IntentCatalog:
    return load_intent_catalog(ConduitSettings().config_dir / "intents.yaml")


@pytest.fixture(scope="module")
def classifier(catalog: IntentCatalog) -> IntentClassifier:
    classifier = IntentClassifier(catalog, default_embedder())
    classifier.warm_up()
    return classifier


def _event(text: str) -> StepEvent:
    return StepEvent(envelope=new_envelope(session_id="s-1"), request=UserRequest(text=text))


def test_the_shipped_catalog_declares_the_three_routed_intents(catalog: IntentCatalog) -> None:
    assert set(catalog.intents) == {"refund", "order_status", "product_question"}, (
        "config/intents.yaml must declare exactly the intents the triage workflow routes on"
    )


def test_a_catalog_error_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "intents.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "threshold": 0.3,
                "margin": 0.02,
                "intents": {
                    "refund": {"description": "money back", "examples": ["refund me"]},
                    "order_status": {
                        "description": "where",
                        "examples": [f"w{i}" for i in range(8)],
                    },
                },
            }
        )
    )
    with pytest.raises(ConfigFileError) as error:
        load_intent_catalog(path)
    message = str(error.value)
    assert str(path) in message, f"error must name the file: {message}"
    assert "intents.refund.examples" in message, f"error must name the field: {message}"


def test_an_example_listed_under_two_intents_is_rejected(tmp_path: Path) -> None:
    examples = [f"example {i}" for i in range(8)]
    path = tmp_path / "intents.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "threshold": 0.3,
                "margin": 0.02,
                "intents": {
                    "refund": {"description": "a", "examples": examples},
                    "order_status": {"description": "b", "examples": examples},
                },
            },
            sort_keys=False,
        )
    )
    with pytest.raises(ConfigFileError, match=r"intents\.order_status\.examples"):
        load_intent_catalog(path)


def test_accuracy_on_the_labelled_eval_set_is_at_least_85_percent(
    classifier: IntentClassifier,
) -> None:
    messages = yaml.safe_load(EVAL_SET.read_text(encoding="utf-8"))["messages"]
    results = classifier.classify([m["text"] for m in messages])
    predicted = [FALLBACK if r.fallback else r.intent for r in results]
    misses = [
        (m["text"], m["expect"], p)
        for m, p in zip(messages, predicted, strict=True)
        if p != m["expect"]
    ]
    accuracy = 1 - len(misses) / len(messages)
    assert len(messages) >= 40, "the eval set must hold at least 40 messages"
    assert accuracy >= 0.85, (
        f"accuracy {accuracy:.3f} < 0.85; misses (text, expected, got): {misses}"
    )


@pytest.mark.parametrize(
    "text",
    [
        "What's a good name for a goldfish?",
        "Recommend me a podcast about history",
        "good evening",
    ],
)
def test_out_of_scope_messages_fall_back(classifier: IntentClassifier, text: str) -> None:
    [result] = classifier.classify([text])
    assert result.fallback, f"{text!r} must fall back, got {result}"


def test_scores_cover_every_intent_best_first(classifier: IntentClassifier) -> None:
    [result] = classifier.classify(["I was charged twice for one order"])
    names = [name for name, _ in result.scores]
    values = [score for _, score in result.scores]
    assert sorted(names) == ["order_status", "product_question", "refund"], names
    assert values == sorted(values, reverse=True), f"scores must be best first: {result.scores}"
    assert result.confidence == values[0], "confidence must be the best cosine"


async def test_the_step_fills_intent_scores_and_entities(classifier: IntentClassifier) -> None:
    event = _event("I was charged twice on invoice INV-1001, please refund the extra $49.99")
    await IntentStep(classifier)(event, StepCall(workflow="triage", step_id="classify"))
    intent = event.intent
    assert (intent.intent, intent.fallback) == ("refund", False), f"got {intent}"
    assert intent.confidence == max(s.score for s in intent.scores), "confidence is the best score"
    assert len(intent.scores) == 3, "every intent must be scored"
    assert list(intent.entities) == [
        Entity(kind="invoice_id", value="INV-1001"),
        Entity(kind="amount", value="49.99"),
        Entity(kind="currency", value="USD"),
    ], f"entities: {intent.entities}"


async def test_a_rerun_of_the_step_replaces_rather_than_appends(
    classifier: IntentClassifier,
) -> None:
    event = _event("Where is order #5001?")
    step = IntentStep(classifier)
    call = StepCall(workflow="triage", step_id="classify")
    await step(event, call)
    await step(event, call)
    assert len(event.intent.scores) == 3, "scores must not accumulate"
    assert list(event.intent.entities) == [Entity(kind="order_id", value="ORD-5001")]


def test_build_names_the_service_intent() -> None:
    assert build(ConduitSettings()).name == "intent", "the workflow routes to service 'intent'"
