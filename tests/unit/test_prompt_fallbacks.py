"""The template's own answers: which one fits a request, and how it is rendered."""

from __future__ import annotations

import json

from services.prompt_builder.fallbacks import excerpt, fallback_answer
from services.prompt_builder.templates import AnswerSpec, Fallback, RequiredSlot
from shared.agent import answer_slots
from shared.contracts import Chunk, RetrievalResult, ToolCall, ToolExchange

REFUND = {"invoice_id": "INV-1001", "amount": 49.99, "currency": "USD", "status": "issued"}
REFUSED = {"invoice_id": "INV-1003", "eligible": False, "reason": "the invoice is too old"}
POLICY = Chunk(
    source_id="refund-policy#4",
    document_id="refund-policy",
    title="Refund policy",
    text="## Paying refunds\nRefunds go back to the card. They take 5 to 7 business days. More.",
    score=0.8,
)
SPEC = AnswerSpec(
    fallbacks=[
        Fallback(
            when={"issue_refund.status": "issued"},
            text="I have refunded {issue_refund.amount} {currency} for invoice {invoice_id}.",
            cite=["refund-policy"],
        ),
        Fallback(
            when={"check_refund_policy.eligible": False},
            text="I cannot refund invoice {invoice_id}: {reason}.",
        ),
    ]
)


def _exchange(tool: str, result: dict[str, object]) -> ToolExchange:
    return ToolExchange(call=ToolCall(tool=tool), ok=True, result_json=json.dumps(result))


def _answer(
    exchanges: list[ToolExchange],
    chunks: list[Chunk],
    spec: AnswerSpec = SPEC,
    *,
    passage: tuple[str, str] = ("", ""),
) -> tuple[str, list[str]] | None:
    slots = answer_slots(exchanges, {e.call.tool: None for e in exchanges})
    retrieval = RetrievalResult(chunks=chunks, answer_passage=passage[0], answer_source=passage[1])
    found = fallback_answer(spec, exchanges, retrieval, slots)
    return None if found is None else (found.text, found.sources)


def test_the_first_fallback_whose_conditions_hold_is_rendered_with_its_citations() -> None:
    answer = _answer([_exchange("issue_refund", REFUND)], [POLICY])

    assert answer == (
        "I have refunded 49.99 USD for invoice INV-1001.",
        ["refund-policy#4"],
    )


def test_a_fallback_whose_condition_fails_is_passed_over() -> None:
    answer = _answer([_exchange("check_refund_policy", REFUSED)], [POLICY])

    assert answer == ("I cannot refund invoice INV-1003: the invoice is too old.", [])


def test_a_fallback_citing_a_document_that_was_not_retrieved_does_not_fit() -> None:
    assert _answer([_exchange("issue_refund", REFUND)], []) is None


def test_a_fallback_with_a_slot_the_request_has_no_value_for_does_not_fit() -> None:
    spec = AnswerSpec(fallbacks=[Fallback(text="Your order arrives on {estimated_delivery}.")])

    assert _answer([_exchange("lookup_order", {"status": "processing"})], [], spec) is None


def test_a_source_fallback_quotes_the_best_retrieved_chunk_and_cites_it() -> None:
    spec = AnswerSpec(fallbacks=[Fallback(text="From our {source.title}: {source.excerpt}")])
    weaker = Chunk(
        source_id="warranty#1", document_id="warranty", title="Warranty", text="x.", score=0.1
    )

    answer = _answer([], [weaker, POLICY], spec)

    assert answer == (
        "From our Refund policy: Refunds go back to the card. They take 5 to 7 business days.",
        ["refund-policy#4"],
    )


def test_an_excerpt_leaves_out_headings_and_keeps_the_first_sentences() -> None:
    assert excerpt("# Title\nOne. Two! Three?", count=2) == "One. Two!"


def test_a_passage_fallback_quotes_the_passage_retrieval_picked_and_cites_its_chunk() -> None:
    spec = AnswerSpec(fallbacks=[Fallback(text="Our {source.title} says: {source.passage}")])
    passage = ("They take 5 to 7 business days.", "refund-policy#4")

    answer = _answer([], [POLICY], spec, passage=passage)

    assert answer == (
        "Our Refund policy says: They take 5 to 7 business days.",
        ["refund-policy#4"],
    )


def _chunk(source_id: str, title: str, text: str) -> Chunk:
    document_id = source_id.split("#", 1)[0]
    return Chunk(source_id=source_id, document_id=document_id, title=title, text=text, score=0.7)


SHIPPING = _chunk("shipping-policy#1", "Shipping policy", "Express shipping costs 14.99 USD.")
POLICY_RETURNS = _chunk("refund-policy#3", "Refund policy", "Items can be returned within 30 days.")


def _quoting(second: Chunk) -> tuple[str, list[str]] | None:
    spec = AnswerSpec(fallbacks=[Fallback(text="Our {source.title} says: {source.passage}")])
    retrieval = RetrievalResult(
        chunks=[POLICY, second],
        answer_passage="They take 5 to 7 business days.",
        answer_source=POLICY.source_id,
        second_passage=second.text,
        second_source=second.source_id,
    )
    found = fallback_answer(spec, [], retrieval, {})
    return None if found is None else (found.text, found.sources)


def test_a_passage_fallback_quotes_the_second_passage_of_the_same_document_too() -> None:
    assert _quoting(POLICY_RETURNS) == (
        "Our Refund policy says: They take 5 to 7 business days. "
        "Items can be returned within 30 days.",
        ["refund-policy#4", "refund-policy#3"],
    )


def test_a_passage_fallback_leaves_out_another_documents_passage() -> None:
    assert _quoting(SHIPPING) == (
        "Our Refund policy says: They take 5 to 7 business days.",
        ["refund-policy#4"],
    )


def test_a_passage_fallback_does_not_fit_when_retrieval_picked_no_passage() -> None:
    spec = AnswerSpec(fallbacks=[Fallback(text="Our {source.title} says: {source.passage}")])

    assert _answer([], [POLICY], spec) is None


MUST_SAY_WHY = AnswerSpec(
    must_state=[
        "issue_refund.amount",
        RequiredSlot(
            slot="check_refund_policy.reason", when={"check_refund_policy.eligible": False}
        ),
    ]
)


def test_a_required_slot_whose_condition_holds_must_be_stated() -> None:
    results = {"check_refund_policy.eligible": False, "check_refund_policy.reason": "void"}

    required = MUST_SAY_WHY.must_state_now(["check_refund_policy.reason"], results)

    assert required == ["check_refund_policy.reason"], "a refusal must say why"


def test_a_required_slot_whose_condition_fails_need_not_be_stated() -> None:
    results = {"check_refund_policy.eligible": True, "issue_refund.amount": 49.99}
    slots = ["check_refund_policy.reason", "issue_refund.amount"]

    assert MUST_SAY_WHY.must_state_now(slots, results) == ["issue_refund.amount"]
