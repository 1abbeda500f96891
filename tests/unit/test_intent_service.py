"""Intent service: the catalog file, classification and its refusals, priority, and the step."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.intent.catalog import CharacterNgrams, IntentCatalog, load_intent_catalog
from services.intent.classifier import UNSURE, IntentClassifier
from services.intent.priority import PriorityReader
from services.intent.service import IntentStep, build
from shared.config import ConduitSettings, ConfigFileError
from shared.contracts import Entity, StepEvent, UserRequest, new_envelope
from shared.embeddings import default_embedder
from shared.runtime import StepCall

ROUTED_INTENTS = {"refund", "order_status", "product_question", "escalation"}


@pytest.fixture(scope="module")
def catalog() -> IntentCatalog:
    return load_intent_catalog(ConduitSettings().config_dir / "intents.yaml")


@pytest.fixture(scope="module")
def classifier(catalog: IntentCatalog) -> IntentClassifier:
    classifier = IntentClassifier(catalog, default_embedder())
    classifier.warm_up()
    return classifier


@pytest.fixture(scope="module")
def priority(catalog: IntentCatalog) -> PriorityReader:
    return PriorityReader(catalog.priority)


def _event(text: str) -> StepEvent:
    return StepEvent(envelope=new_envelope(session_id="s-1"), request=UserRequest(text=text))


def _catalog_data(**changes: Any) -> dict[str, Any]:
    examples = {name: [f"{name} example {i}" for i in range(8)] for name in ("a", "b", "c")}
    data: dict[str, Any] = {
        "classifier": {"min_probability": 0.4, "min_margin": 0.05, "regularisation": 10},
        "priority": {"urgency_cues": ["urgent"], "rules": [{"level": "normal"}]},
        "intents": {
            "refund": {"description": "money back", "examples": examples["a"]},
            "order_status": {"description": "where", "examples": examples["b"]},
        },
        "out_of_scope": examples["c"],
    }
    data.update(changes)
    return data


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "intents.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_shipped_catalog_declares_the_routed_intents(catalog: IntentCatalog) -> None:
    assert set(catalog.intents) == ROUTED_INTENTS, (
        "config/intents.yaml must declare exactly the intents the triage workflow routes on"
    )


def test_a_catalog_error_names_the_file_and_the_field(tmp_path: Path) -> None:
    data = _catalog_data()
    data["intents"]["refund"]["examples"] = ["refund me"]
    path = _write(tmp_path, data)
    with pytest.raises(ConfigFileError) as error:
        load_intent_catalog(path)
    message = str(error.value)
    assert str(path) in message, f"error must name the file: {message}"
    assert "intents.refund.examples" in message, f"error must name the field: {message}"


def test_an_example_listed_under_two_intents_is_rejected(tmp_path: Path) -> None:
    data = _catalog_data()
    data["intents"]["order_status"]["examples"] = data["intents"]["refund"]["examples"]
    with pytest.raises(ConfigFileError, match=r"intents\.order_status\.examples"):
        load_intent_catalog(_write(tmp_path, data))


def test_an_intent_named_out_of_scope_is_rejected(tmp_path: Path) -> None:
    data = _catalog_data()
    data["intents"]["out_of_scope"] = data["intents"].pop("order_status")
    with pytest.raises(ConfigFileError, match=r"intents\.out_of_scope"):
        load_intent_catalog(_write(tmp_path, data))


def test_priority_rules_must_end_with_a_default_level(tmp_path: Path) -> None:
    rules = [{"level": "high", "urgency_at_least": 0.5}]
    data = _catalog_data(priority={"urgency_cues": ["urgent"], "rules": rules})
    with pytest.raises(ConfigFileError, match=r"priority.*last rule must have no bounds"):
        load_intent_catalog(_write(tmp_path, data))


def test_a_probability_bar_outside_zero_to_one_names_its_field(tmp_path: Path) -> None:
    bars = {"min_probability": 1.5, "min_margin": 0.05, "regularisation": 10}
    with pytest.raises(ConfigFileError, match=r"classifier\.min_probability"):
        load_intent_catalog(_write(tmp_path, _catalog_data(classifier=bars)))


def test_character_ngram_sizes_out_of_order_name_their_field(tmp_path: Path) -> None:
    bars = {
        "min_probability": 0.4,
        "min_margin": 0.05,
        "regularisation": 10,
        "character_ngrams": {"smallest": 5, "largest": 2},
    }
    with pytest.raises(ConfigFileError, match=r"classifier\.character_ngrams.*largest"):
        load_intent_catalog(_write(tmp_path, _catalog_data(classifier=bars)))


def test_a_lower_temperature_sharpens_the_probabilities_and_keeps_their_order(
    catalog: IntentCatalog,
) -> None:
    def scores(temperature: float) -> tuple[tuple[str, float], ...]:
        spec = catalog.classifier.model_copy(update={"temperature": temperature})
        tuned = catalog.model_copy(update={"classifier": spec})
        [result] = IntentClassifier(tuned, default_embedder()).classify(["refund me please"])
        return result.scores

    plain, sharp = scores(1.0), scores(0.5)

    assert [r for r, _ in sharp] == [r for r, _ in plain], f"order changed: {plain} {sharp}"
    assert sharp[0][1] > plain[0][1], f"not sharper: {plain[0]} -> {sharp[0]}"
    assert sum(p for _, p in sharp) == pytest.approx(1.0), sharp


def test_with_character_ngrams_weighted_zero_the_embedding_alone_routes(
    catalog: IntentCatalog,
) -> None:
    spec = catalog.classifier.model_copy(update={"character_ngrams": CharacterNgrams(weight=0.0)})
    embedding_only = IntentClassifier(
        catalog.model_copy(update={"classifier": spec}), default_embedder()
    )
    [result] = embedding_only.classify(["I was charged twice, I want my money back"])
    assert (result.route, result.fallback) == ("refund", False), result


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I was charged twice for the same thing, I want my money back", "refund"),
        ("Where has my parcel got to? It was due on Monday", "order_status"),
        ("Does the Zephyr 3000 kettle switch itself off when it boils?", "product_question"),
        ("Get me a real person right now, I am done with this bot", "escalation"),
        ("My lawyer will be in touch about the way you have treated me", "escalation"),
    ],
)
def test_a_plain_request_goes_to_its_intent(
    classifier: IntentClassifier, text: str, intent: str
) -> None:
    [result] = classifier.classify([text])
    assert (result.route, result.fallback) == (intent, False), f"{text!r}: {result}"


@pytest.mark.parametrize(
    "text", ["Can you help me with my chemistry homework?", "Recommend me a podcast about history"]
)
def test_an_out_of_scope_message_falls_back_with_the_reason(
    classifier: IntentClassifier, text: str
) -> None:
    [result] = classifier.classify([text])
    assert (result.route, result.fallback) == ("out_of_scope", True), f"{text!r}: {result}"
    assert "nothing this service handles" in result.reason, result.reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("%%% 12345 !!! ??? ###", "no words"),
        ("where is my order " * 200, "longer than 2000 characters"),
        ("我的订单在哪里我已经等了两个星期了", "script the classifier does not read"),
        ("Где мой заказ? Я жду уже две недели", "script the classifier does not read"),
        ("Wo ist meine Bestellung? Ich warte seit zwei Wochen", "language 'de'"),
        ("Je voudrais un remboursement pour ma commande", "language 'fr'"),
    ],
    ids=["empty", "whitespace", "no-words", "very-long", "chinese", "russian", "german", "french"],
)
def test_text_it_cannot_read_goes_to_a_person_with_the_reason(
    classifier: IntentClassifier, text: str, reason: str
) -> None:
    [result] = classifier.classify([text])
    assert (result.route, result.fallback) == (UNSURE, True), f"{text[:40]!r}: {result}"
    assert reason in result.reason, f"{text[:40]!r}: reason {result.reason!r}"


def test_refused_and_readable_texts_in_one_batch_keep_their_order(
    classifier: IntentClassifier,
) -> None:
    results = classifier.classify(["", "Has my order shipped yet?", "???"])
    assert [r.route for r in results] == [UNSURE, "order_status", UNSURE], results


def test_scores_are_probabilities_over_every_route_best_first(
    classifier: IntentClassifier,
) -> None:
    [result] = classifier.classify(["I was charged twice for one order"])
    names = [name for name, _ in result.scores]
    values = [score for _, score in result.scores]
    assert sorted(names) == sorted({*ROUTED_INTENTS, "out_of_scope"}), names
    assert values == sorted(values, reverse=True), f"scores must be best first: {result.scores}"
    assert sum(values) == pytest.approx(1.0), "the scores must be a probability distribution"
    assert result.confidence == values[0], "confidence must be the best probability"


def test_bars_above_every_probability_make_the_classifier_unsure(
    catalog: IntentCatalog,
) -> None:
    strict = catalog.model_copy(
        update={"classifier": catalog.classifier.model_copy(update={"min_probability": 0.999})}
    )
    classifier = IntentClassifier(strict, default_embedder())
    [result] = classifier.classify(["Can I have a refund or maybe just know where my box is?"])
    assert result.unsure, f"no route clears a 0.999 bar: {result}"
    assert "no route is likely enough" in result.reason, result.reason


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("You are useless and I need this sorted TODAY, this is a disgrace!!", "urgent"),
        ("This is the worst, most pathetic service I have ever had", "high"),
        ("I need the invoice corrected urgently please", "high"),
        ("Could you tell me when my order will arrive?", "normal"),
    ],
)
def test_priority_comes_from_sentiment_and_urgency(
    priority: PriorityReader, text: str, level: str
) -> None:
    read = priority.read(text)
    assert read.level == level, f"{text!r}: {read}"


async def test_the_step_records_route_entities_and_priority(
    classifier: IntentClassifier, priority: PriorityReader
) -> None:
    event = _event("I was charged twice on invoice INV-1001, please refund the extra $49.99")
    await IntentStep(classifier, priority)(event, StepCall(workflow="triage", step_id="classify"))
    intent = event.intent
    assert (intent.intent, intent.fallback, intent.unsure) == ("refund", False, False), intent
    assert intent.confidence == max(s.score for s in intent.scores), "confidence is the best score"
    assert len(intent.scores) == len(ROUTED_INTENTS) + 1, "every route must be scored"
    assert intent.priority == "normal", f"a calm request is normal priority: {intent}"
    assert list(intent.entities) == [
        Entity(kind="invoice_id", value="INV-1001"),
        Entity(kind="amount", value="49.99"),
        Entity(kind="currency", value="USD"),
    ], f"entities: {intent.entities}"


async def test_the_step_gives_the_reason_for_a_message_it_cannot_read(
    classifier: IntentClassifier, priority: PriorityReader
) -> None:
    event = _event("   ")
    await IntentStep(classifier, priority)(event, StepCall(workflow="triage", step_id="classify"))
    assert (event.intent.fallback, event.intent.unsure) == (True, True), event.intent
    assert event.intent.reason == "the message is empty", event.intent.reason


async def test_a_rerun_of_the_step_replaces_rather_than_appends(
    classifier: IntentClassifier, priority: PriorityReader
) -> None:
    event = _event("Where is order #5001?")
    step = IntentStep(classifier, priority)
    call = StepCall(workflow="triage", step_id="classify")
    await step(event, call)
    await step(event, call)
    assert len(event.intent.scores) == len(ROUTED_INTENTS) + 1, "scores must not accumulate"
    assert list(event.intent.entities) == [Entity(kind="order_id", value="ORD-5001")]


def test_build_names_the_service_intent() -> None:
    assert build(ConduitSettings()).name == "intent", "the workflow routes to service 'intent'"
