"""The strict judge of the real-model answers suite (tests/model/answers): it rejects wrong
facts, false action claims, cut answers and answers missing what was asked, accepts right
answers in several wordings, and its evaluation set and truth agree with the company's data.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from services.tool_executor.business.billing import check_refund_policy, issue_refund
from services.tool_executor.business.context import ToolContext
from services.tool_executor.business.database import SCHEMA, open_business_db
from services.tool_executor.business.policy import Invoice, RefundPolicy, decide_refund
from shared.config import load_yaml_model, repo_root
from tests.model.answers.dataset import (
    ALL_ENV,
    DEFAULT_PER_WORKFLOW,
    ENFORCED_WORKFLOWS,
    WORKFLOWS,
    Conversation,
    load_conversations,
    selected,
)
from tests.model.answers.facts import extract_facts, fact_in, parse_fact
from tests.model.answers.judge import Judgement, Problem, judge, judge_answer
from tests.model.answers.kafka_runner import delete_payments_except, foreign_payments, payment_ids
from tests.model.answers.truth import (
    InvoiceTruth,
    OrderTruth,
    Payment,
    Ticket,
    Truth,
    assemble,
    invoice_truth,
    knowledge_facts,
    load_policy,
)

CONFIG = repo_root() / "config"
TODAY = date(2026, 12, 7)  # a Monday
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _conversation(workflow: str, **fields: object) -> Conversation:
    asks = {
        "refund": "refund",
        "order_status": "order_status",
        "product_question": "product_question",
        "incident_triage": "incident",
    }.get(workflow, "refund")
    defaults: dict[str, object] = {
        "id": "case",
        "workflow": workflow,
        "text": "a message",
        "asks": asks,
        "knowledge": {
            "refund": ("refund-policy",),
            "order_status": ("shipping-policy",),
            "incident_triage": (),
        }.get(workflow, ()),
    }
    return Conversation(**(defaults | fields))  # type: ignore[arg-type]


def _invoice(invoice_id: str) -> InvoiceTruth:
    rows = {
        "INV-1001": (4999, "paid", 2, 3),
        "INV-1002": (1999, "paid", 1, 10),
        "INV-1003": (2500, "paid", 2, 200),
        "INV-1004": (89900, "paid", 2, 5),
        "INV-1005": (1500, "void", 2, 2),
    }
    cents, status, charged, days = rows[invoice_id]
    row = {
        "invoice_id": invoice_id,
        "amount_cents": cents,
        "currency": "USD",
        "status": status,
        "charged_count": charged,
        "issued_at": (NOW - timedelta(days=days)).replace(tzinfo=None).isoformat(" "),
    }
    return invoice_truth(row, load_policy(), now=NOW, refunded=Decimal(0))


ORDERS = {
    "ORD-5001": OrderTruth(
        order_id="ORD-5001",
        status="shipped",
        carrier="UPS",
        tracking_number="1Z999AA10123456784",
        estimated_delivery=TODAY + timedelta(days=2),
    ),
    "ORD-5002": OrderTruth(
        order_id="ORD-5002",
        status="processing",
        carrier=None,
        tracking_number=None,
        estimated_delivery=TODAY + timedelta(days=5),
    ),
    "ORD-5003": OrderTruth(
        order_id="ORD-5003",
        status="delivered",
        carrier="DHL",
        tracking_number="JD014600006281230",
        estimated_delivery=None,
    ),
}
REFUND = Payment(
    payment_id="PAY-3F2A9C0B1D4E", invoice_id="INV-1001", amount=Decimal("49.99"), currency="USD"
)


def _refund_case(invoice_id: str, *, paid: bool) -> tuple[Conversation, Truth]:
    conversation = _conversation("refund", invoice=invoice_id)
    truth = assemble(
        conversation,
        today=TODAY,
        invoice=_invoice(invoice_id),
        payments=(REFUND,) if paid else (),
    )
    return conversation, truth


def _order_case(order_id: str) -> tuple[Conversation, Truth]:
    conversation = _conversation("order_status", order=order_id)
    return conversation, assemble(conversation, today=TODAY, order=ORDERS[order_id])


def _product_case(document: str, *must: str) -> tuple[Conversation, Truth]:
    conversation = _conversation("product_question", knowledge=(document,), must_state=must)
    return conversation, assemble(conversation, today=TODAY)


TICKET = Ticket(ticket_id="INC-4100", service="payments", severity="sev2", team="payments-oncall")


def _incident_case(*tickets: Ticket) -> tuple[Conversation, Truth]:
    conversation = _conversation(
        "incident_triage", service="payments", text="ALERT service=payments: 5xx above 10%"
    )
    return conversation, assemble(conversation, today=TODAY, tickets=tickets)


def _kinds(problems: list[Problem]) -> list[str]:
    return [problem.kind for problem in problems]


# ---------------------------------------------------------------- facts


def test_one_date_in_several_wordings_is_one_fact() -> None:
    truth = [parse_fact("2026-12-09")]
    wordings = (
        "2026-12-09",
        "December 9",
        "Dec 9, 2026",
        "9th December",
        "12/09/2026",
        "9.12.2026",
    )
    for wording in wordings:
        (fact,) = extract_facts(f"It arrives on {wording}.")
        assert fact_in(fact, truth), wording
    (wednesday,) = extract_facts("It arrives on Wednesday.")
    assert fact_in(wednesday, truth)
    (tomorrow,) = extract_facts("It arrives tomorrow.", today=TODAY)
    assert not fact_in(tomorrow, truth)


def test_amounts_and_durations_normalise() -> None:
    amounts = {
        f.value
        for f in extract_facts("$49.99, 49.99 USD, USD 49.99 or 49.99")
        if f.kind == "amount"
    }
    assert amounts == {"49.99"}
    year = parse_fact("1 year")
    for wording in ("one year", "a one-year warranty", "12 months"):
        assert any(fact_in(f, [year]) for f in extract_facts(wording)), wording
    range_ = parse_fact("5 to 7 business days")
    for wording in ("5-7 business days", "5 to 7 working days", "between 5 and 7 business days"):
        assert any(fact_in(f, [range_]) for f in extract_facts(wording)), wording
    assert fact_in(parse_fact("7 business days"), [range_]), "within the range's end"
    for wrong in ("2 weeks", "5 business days", "5 to 7 days", "14 days"):
        assert not fact_in(parse_fact(wrong), [range_]), wrong


def test_ids_inside_other_facts_are_not_read_twice() -> None:
    facts = extract_facts(
        "Order 5001 (ORD-5001) ships with UPS, tracking 1Z999AA10123456784; deploy 2.14.0."
    )
    assert [(f.kind, f.value) for f in facts] == [
        ("id", "ORD-5001"),
        ("id", "ORD-5001"),
        ("carrier", "ups"),
        ("tracking", "1Z999AA10123456784"),
        ("version", "2.14.0"),
    ]


# ---------------------------------------------------------------- order status


@pytest.mark.parametrize(
    "answer",
    [
        "Your order ORD-5001 has shipped with UPS, tracking number 1Z999AA10123456784, "
        "and should arrive on 2026-12-09.",
        "ORD-5001 is on its way with UPS and is expected to be delivered on December 9.",
        "Good news: your parcel was dispatched via UPS and should reach you on Wednesday, "
        "Dec 9, 2026.",
        "Your order has shipped and will arrive in 2 days.",
    ],
)
def test_a_right_order_status_answer_passes(answer: str) -> None:
    conversation, truth = _order_case("ORD-5001")
    assert judge_answer(conversation, answer, truth) == []


def test_a_wrong_arrival_date_is_wrong() -> None:
    conversation, truth = _order_case("ORD-5001")
    problems = judge_answer(
        conversation, "Your order ORD-5001 has shipped and should arrive on 2026-12-06.", truth
    )
    assert "fact" in _kinds(problems)
    assert any("estimated delivery" in p.detail for p in problems)


def test_the_last_update_timestamp_is_no_arrival_date() -> None:
    conversation, truth = _order_case("ORD-5001")
    problems = judge_answer(
        conversation,
        "Your order ORD-5001 has shipped and should arrive on 2026-12-06 13:51:56.",
        truth,
    )
    assert _kinds(problems).count("fact") == 2, problems  # the date and the time


def test_delivered_for_a_shipped_order_is_wrong() -> None:
    conversation, truth = _order_case("ORD-5001")
    problems = judge_answer(
        conversation, "Your order ORD-5001 was delivered, it arrived on December 9.", truth
    )
    assert any(p.kind == "fact" and "delivered" in p.detail for p in problems), problems


def test_a_processing_order_has_not_shipped() -> None:
    conversation, truth = _order_case("ORD-5002")
    right = (
        "Your order ORD-5002 is being processed and has not shipped yet; "
        "it should arrive on December 12."
    )
    assert judge_answer(conversation, right, truth) == []
    wrong = judge_answer(
        conversation, "Your order ORD-5002 has shipped, arriving December 12.", truth
    )
    assert any(p.kind == "fact" and "shipped" in p.detail for p in wrong), wrong


def test_a_delivered_order_states_no_date() -> None:
    conversation, truth = _order_case("ORD-5003")
    right = "Your order ORD-5003 was delivered by DHL (tracking JD014600006281230)."
    assert judge_answer(conversation, right, truth) == []
    wrong = judge_answer(conversation, "ORD-5003 is on its way and arrives tomorrow.", truth)
    assert _kinds(wrong).count("fact") == 2, wrong  # shipped, and a date


# ---------------------------------------------------------------- refunds


@pytest.mark.parametrize(
    "answer",
    [
        "I have refunded the duplicate charge of 49.99 USD on invoice INV-1001. It will reach "
        "your original payment method within 5 to 7 business days.",
        "Done: the duplicate payment of $49.99 on INV-1001 was refunded to your card.",
        "Your refund of 49.99 USD for invoice INV-1001 has been issued (payment PAY-3F2A9C0B1D4E).",
    ],
)
def test_a_right_refund_answer_passes(answer: str) -> None:
    conversation, truth = _refund_case("INV-1001", paid=True)
    assert judge_answer(conversation, answer, truth) == []


def test_a_wrong_refund_amount_is_wrong() -> None:
    conversation, truth = _refund_case("INV-1001", paid=True)
    problems = judge_answer(conversation, "I have refunded 59.99 USD on INV-1001.", truth)
    assert "fact" in _kinds(problems)
    assert "claim" in _kinds(problems)
    assert any("amount refunded" in p.detail for p in problems)


def test_two_weeks_is_not_five_to_seven_business_days() -> None:
    conversation, truth = _refund_case("INV-1001", paid=True)
    problems = judge_answer(
        conversation,
        "I have refunded 49.99 USD on INV-1001; you will see it within 2 weeks.",
        truth,
    )
    assert _kinds(problems) == ["fact"], problems
    assert "2 weeks" in problems[0].detail


def test_a_refund_claim_without_a_payment_is_wrong() -> None:
    conversation, truth = _refund_case("INV-1001", paid=False)
    problems = judge_answer(
        conversation, "Your refund of 49.99 USD for INV-1001 has been issued.", truth
    )
    assert "claim" in _kinds(problems), problems
    for claim in (
        "The duplicate charge will be refunded to your card.",
        "We are refunding it now.",
    ):
        conversation, truth = _refund_case("INV-1002", paid=False)
        assert "claim" in _kinds(judge_answer(conversation, f"INV-1002: {claim}", truth)), claim


def test_a_zero_refundable_amount_is_no_refund_claim() -> None:
    conversation, truth = _refund_case("INV-1005", paid=False)
    for answer in (
        "The invoice is void, so it cannot be refunded. The refundable amount is zero.",
        "The invoice is void, so it cannot be refunded. The refundable amount is 0.0 USD.",
    ):
        assert "claim" not in _kinds(judge_answer(conversation, answer, truth)), answer


def test_saying_no_refund_when_one_was_paid_is_wrong() -> None:
    conversation, truth = _refund_case("INV-1001", paid=True)
    problems = judge_answer(
        conversation,
        "Sorry, invoice INV-1001 cannot be refunded, the payment method was not valid.",
        truth,
    )
    assert "claim" in _kinds(problems)
    assert "missing" in _kinds(problems)


@pytest.mark.parametrize(
    ("invoice_id", "answer"),
    [
        ("INV-1002", "Invoice INV-1002 cannot be refunded: it was only charged once."),
        ("INV-1002", "I checked INV-1002 and there is no duplicate charge, so I can't refund it."),
        ("INV-1003", "INV-1003 is older than the 60-day refund window, so I cannot refund it."),
        (
            "INV-1004",
            "The duplicate charge on INV-1004 is above the automatic limit of 200.00 USD, so "
            "I cannot refund it myself.",
        ),
        ("INV-1005", "I'm sorry, invoice INV-1005 is void, so it is not eligible for a refund."),
    ],
)
def test_a_right_refusal_passes(invoice_id: str, answer: str) -> None:
    conversation, truth = _refund_case(invoice_id, paid=False)
    assert judge_answer(conversation, answer, truth) == []


def test_a_refusal_with_the_wrong_reason_is_wrong() -> None:
    conversation, truth = _refund_case("INV-1002", paid=False)
    problems = judge_answer(
        conversation,
        "INV-1002 cannot be refunded because it is older than the refund window.",
        truth,
    )
    assert any(p.kind == "fact" and "window" in p.detail for p in problems), problems
    problems = judge_answer(
        conversation, "You were charged twice for INV-1002, but I cannot refund it.", truth
    )
    assert any(p.kind == "fact" and "charged" in p.detail for p in problems), problems


def test_a_refusal_must_say_so() -> None:
    conversation, truth = _refund_case("INV-1003", paid=False)
    problems = judge_answer(conversation, "Invoice INV-1003 was issued a while ago.", truth)
    assert _kinds(problems) == ["missing"], problems


# ---------------------------------------------------------------- complete, on topic


def test_an_answer_cut_mid_sentence_is_incomplete() -> None:
    conversation, truth = _order_case("ORD-5001")
    for cut in (
        "Your order ORD-5001 has shipped with UPS and should arrive on",
        "Your order ORD-5001 has shipped with UPS and should arrive on 2026-12-09...",
    ):
        assert "incomplete" in _kinds(judge_answer(conversation, cut, truth)), cut


def test_an_answer_that_repeats_itself_is_incomplete() -> None:
    conversation, truth = _order_case("ORD-5001")
    sentence = "Your order ORD-5001 has shipped and should arrive on 2026-12-09."
    problems = judge_answer(conversation, f"{sentence} {sentence}", truth)
    assert _kinds(problems) == ["incomplete"], problems


def test_an_answer_missing_the_fact_asked_for_fails() -> None:
    conversation, truth = _product_case("warranty", "1 year")
    problems = judge_answer(
        conversation, "Our warranty covers defects in materials and workmanship.", truth
    )
    assert _kinds(problems) == ["missing"], problems
    conversation, truth = _order_case("ORD-5001")
    problems = judge_answer(conversation, "Your order ORD-5001 has shipped with UPS.", truth)
    assert _kinds(problems) == ["missing"], problems


@pytest.mark.parametrize(
    "answer",
    [
        "The warranty lasts 1 year from the date of delivery.",
        "Every product comes with a one-year warranty; refurbished products carry 6 months.",
        "You are covered for 12 months from delivery.",
    ],
)
def test_a_right_product_answer_passes(answer: str) -> None:
    conversation, truth = _product_case("warranty", "1 year")
    assert judge_answer(conversation, answer, truth) == []


def test_a_product_answer_with_a_fact_of_no_source_is_wrong() -> None:
    conversation, truth = _product_case("warranty", "1 year")
    problems = judge_answer(conversation, "The warranty lasts 2 years.", truth)
    assert sorted(_kinds(problems)) == ["fact", "missing"], problems


def test_a_policy_answer_about_refunds_is_no_refund_claim() -> None:
    conversation, truth = _product_case("refund-policy", "5 to 7 business days")
    answer = "Once a refund is approved, it usually appears within 5 to 7 business days."
    assert judge_answer(conversation, answer, truth) == []
    problems = judge_answer(conversation, f"{answer} I have refunded your order.", truth)
    assert "claim" in _kinds(problems), problems


def test_actions_that_never_happen_are_false_claims() -> None:
    conversation, truth = _order_case("ORD-5001")
    for claim in (
        "I have cancelled your order ORD-5001.",
        "I've escalated this to our shipping team.",
        "I have opened a ticket with the carrier.",
    ):
        problems = judge_answer(conversation, claim, truth)
        assert "claim" in _kinds(problems), claim


# Answers the real model gave at 781697a (before grounding), judged as a person would.


def test_real_answers_before_grounding_are_judged_as_a_person_would() -> None:
    conversation, truth = _order_case("ORD-5001")
    problems = judge_answer(
        conversation,
        "Your order ORD-5001 has shipped with UPS, tracking number 1Z999AA10123456784, and "
        "should arrive on 2026-12-09. Updated at 2026-12-06 15:21:44",
        truth,
    )
    assert sorted(_kinds(problems)) == ["fact", "fact", "incomplete"], problems
    conversation, truth = _order_case("ORD-5003")
    problems = judge_answer(
        conversation,
        "Your order ORD-5003 has been delivered to DHL, tracking number 1Z999AA10123456784, "
        "and should arrive on 2026-12-01 15:21:39.",
        truth,
    )
    assert {"1Z999AA10123456784", "2026-12-01 15:21:39"} <= {
        p.detail.split("'")[1] for p in problems if p.kind == "fact"
    }, problems
    conversation, truth = _refund_case("INV-1001", paid=True)
    problems = judge_answer(
        conversation,
        "The payment method is not available for invoice INV-1001. Please try to find a "
        "refundable payment method.",
        truth,
    )
    assert {p.detail for p in problems} >= {
        "does not say the refund was made",
        "does not state the amount refunded, 49.99",
    }, problems


def test_a_refusal_that_sends_the_customer_elsewhere_claims_nothing() -> None:
    conversation, truth = _refund_case("INV-1002", paid=False)
    answer = (
        "The invoice was not refundable; other refunds need a person. Please contact the "
        "customer service for refunds."
    )
    assert judge_answer(conversation, answer, truth) == []
    conversation, truth = _refund_case("INV-1001", paid=True)
    answer = "I have refunded 49.99 USD to your original payment method."
    assert judge_answer(conversation, answer, truth) == []


@pytest.mark.parametrize(
    ("invoice_id", "answer"),
    [
        (
            "INV-1002",
            "I cannot refund invoice INV-1002: there is no duplicate charge on this invoice; "
            "other refunds need a person.",
        ),
        (
            "INV-1003",
            "I cannot refund invoice INV-1003: the invoice is older than the 60-day refund window.",
        ),
        (
            "INV-1004",
            "I cannot refund invoice INV-1004: the duplicate charges exceed the automatic limit "
            "of 200.00 USD; a person must approve.",
        ),
        (
            "INV-1005",
            "I cannot refund invoice INV-1005: the invoice is void, so it cannot be refunded.",
        ),
    ],
)
def test_refusals_quoting_the_policy_reason_pass(invoice_id: str, answer: str) -> None:
    conversation, truth = _refund_case(invoice_id, paid=False)
    assert judge_answer(conversation, answer, truth) == []


def test_statuses_said_plainly_pass() -> None:
    conversation, truth = _order_case("ORD-5002")
    answer = "Your order ORD-5002 is processing and should arrive on 2026-12-12."
    assert judge_answer(conversation, answer, truth) == []
    conversation, truth = _order_case("ORD-5003")
    assert judge_answer(conversation, "Your order ORD-5003 is delivered.", truth) == []


def test_a_true_fact_of_another_document_is_off_topic() -> None:
    conversation, truth = _product_case("warranty", "1 year")
    problems = judge_answer(
        conversation, "The warranty lasts 1 year; express shipping costs 14.99 USD.", truth
    )
    assert _kinds(problems) == ["fact"], problems
    assert "shipping-policy.md" in problems[0].detail


# ---------------------------------------------------------------- incidents


def test_an_incident_answer_names_the_ticket_opened() -> None:
    conversation, truth = _incident_case(TICKET)
    right = (
        "Opened INC-4100 (sev2) for payments, routed to payments-oncall: "
        "errors after deploy 2.14.0."
    )
    assert judge_answer(conversation, right, truth) == []
    problems = judge_answer(conversation, "Opened INC-4007 (sev1) for payments.", truth)
    assert sorted(_kinds(problems)) == ["fact", "fact", "missing"], problems


def test_an_incident_answer_without_a_ticket_is_wrong() -> None:
    conversation, truth = _incident_case()
    judgement = judge(conversation, outcome="model", reply="Opened INC-4100 (sev2).", truth=truth)
    assert judgement.verdict == "wrong"
    assert {"claim", "side_effect", "fact"} <= set(_kinds(list(judgement.problems)))


def test_a_ticket_for_the_wrong_team_is_a_wrong_side_effect() -> None:
    ticket = Ticket(ticket_id="INC-4100", service="payments", severity="sev2", team="search-oncall")
    conversation, truth = _incident_case(ticket)
    judgement = judge(
        conversation, outcome="model", reply="Opened INC-4100 for search-oncall.", truth=truth
    )
    assert _kinds(list(judgement.problems)) == ["side_effect"]


# ---------------------------------------------------------------- side effects and verdicts


def _verdict(conversation: Conversation, truth: Truth, outcome: str, reply: str) -> Judgement:
    return judge(conversation, outcome=outcome, reply=reply, truth=truth)


def test_side_effects_exactly_once() -> None:
    conversation, truth = _refund_case("INV-1001", paid=True)
    twice = assemble(conversation, today=TODAY, invoice=truth.invoice, payments=(REFUND, REFUND))
    reply = "I have refunded 49.99 USD on INV-1001."
    assert _verdict(conversation, truth, "model", reply).verdict == "correct"
    assert _verdict(conversation, twice, "model", reply).verdict == "wrong"
    assert _verdict(conversation, twice, "person", "").verdict == "wrong"
    unpaid = assemble(conversation, today=TODAY, invoice=truth.invoice)
    assert _verdict(conversation, unpaid, "person", "").verdict == "person"
    assert _verdict(conversation, unpaid, "template", reply).verdict == "wrong"
    refused, refused_truth = _refund_case("INV-1004", paid=False)
    paid_anyway = assemble(refused, today=TODAY, invoice=refused_truth.invoice, payments=(REFUND,))
    assert _verdict(refused, paid_anyway, "person", "").verdict == "wrong"
    assert _verdict(refused, refused_truth, "error", "").verdict == "unanswered"


def test_a_failed_judgement_says_what_and_why() -> None:
    conversation, truth = _order_case("ORD-5001")
    judgement = _verdict(conversation, truth, "model", "Your order was delivered")
    text = judgement.describe()
    assert "Your order was delivered" in text
    assert "outcome:  model" in text
    assert "[incomplete]" in text
    assert "[fact]" in text


# ---------------------------------------------------------------- the evaluation set


def test_the_evaluation_set_has_twenty_per_workflow_and_a_default_selection() -> None:
    conversations = load_conversations()
    for workflow in WORKFLOWS:
        assert sum(c.workflow == workflow for c in conversations) >= 20, workflow
    default = selected({})
    assert len(default) == DEFAULT_PER_WORKFLOW * len(ENFORCED_WORKFLOWS)
    assert {c.workflow for c in default} == set(ENFORCED_WORKFLOWS), "make test's selection"
    assert len(selected({ALL_ENV: "1"})) == len(conversations)


def test_every_conversation_names_what_it_is_about() -> None:
    sql = (CONFIG / "demo" / "business.sql").read_text(encoding="utf-8")
    for c in load_conversations():
        ids = {f.value for f in extract_facts(c.text) if f.kind == "id"}
        for named in filter(None, (c.invoice, c.order)):
            assert named in ids, f"{c.id} does not name {named}"
            assert f"'{named}'" in sql, f"{c.id}: the company has no {named}"
        if c.service:
            assert re.search(rf"service\s*[=:]\s*{c.service}\b", c.text), c.id


def test_every_required_fact_is_in_its_documents() -> None:
    for c in load_conversations():
        facts = knowledge_facts(c.knowledge)
        for required in c.must_state:
            assert fact_in(parse_fact(required), facts), f"{c.id}: {required!r}"
        text = " ".join(
            (CONFIG / "knowledge" / f"{name}.md").read_text(encoding="utf-8").lower()
            for name in c.knowledge
        )
        for word in c.must_mention:
            assert word.lower() in text, f"{c.id}: {word!r}"


def test_no_evaluation_phrasing_is_copied_into_config() -> None:
    """The evaluation set stays apart from tuning: no prompt, example or intent holds it."""

    def squash(text: str) -> str:
        return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()

    config = " ".join(
        squash(path.read_text(encoding="utf-8"))
        for path in CONFIG.rglob("*")
        if path.suffix in (".yaml", ".yml", ".json", ".jsonl", ".md", ".txt")
    )
    copied = [
        c.id for c in load_conversations() if len(squash(c.text)) > 20 and squash(c.text) in config
    ]
    assert not copied, f"evaluation phrasings found under config/: {copied}"


# ---------------------------------------------------------------- the truth


def test_the_refund_truth_follows_the_company_rule() -> None:
    """The suite's own reading of refunds.yaml gives what the seed data is documented to
    hold, and agrees with the billing code's decision for every seeded invoice."""
    expected = {
        "INV-1001": (Decimal("49.99"), None),
        "INV-1002": (None, "no_duplicate"),
        "INV-1003": (None, "window"),
        "INV-1004": (None, "limit"),
        "INV-1005": (None, "void"),
    }
    policy = load_yaml_model(CONFIG / "policies" / "refunds.yaml", RefundPolicy)
    now = datetime.now(UTC)
    with closing(sqlite3.connect(":memory:")) as db:
        db.row_factory = sqlite3.Row
        db.executescript(SCHEMA + (CONFIG / "demo" / "business.sql").read_text(encoding="utf-8"))
        for row in db.execute("SELECT * FROM invoices ORDER BY invoice_id"):
            truth = invoice_truth(row, load_policy(), now=now, refunded=Decimal(0))
            assert (truth.refundable, truth.refusal) == expected[truth.invoice_id]
            decision = decide_refund(
                policy,
                Invoice(
                    invoice_id=row["invoice_id"],
                    customer_id=row["customer_id"],
                    amount_cents=row["amount_cents"],
                    currency=row["currency"],
                    status=row["status"],
                    charged_count=row["charged_count"],
                    issued_at=datetime.fromisoformat(row["issued_at"]).replace(tzinfo=UTC),
                ),
                0,
                now,
            )
            assert decision.eligible == (truth.refundable is not None), truth.invoice_id
            if truth.refundable is not None:
                assert Decimal(decision.refundable_cents) / 100 == truth.refundable


def test_the_kafka_run_resets_payments_between_conversations(tmp_path: Path) -> None:
    """One business database serves every conversation over Kafka: deleting the payments the
    run made gives the next conversation the seed's refundability, and a payment another
    request made during a conversation is told apart by its idempotency key."""
    path = tmp_path / "tool-executor" / "business.sqlite3"
    policy = load_yaml_model(CONFIG / "policies" / "refunds.yaml", RefundPolicy)
    with closing(open_business_db(path, CONFIG / "demo" / "business.sql")) as db:
        seeded = payment_ids(path)

        def refund(key: str) -> None:
            context = ToolContext(db=db, refund_policy=policy, idempotency_key=key)
            issue_refund(context, invoice_id="INV-1001", amount=49.99)

        def refundable() -> object:
            context = ToolContext(db=db, refund_policy=policy, idempotency_key="check")
            return check_refund_policy(context, invoice_id="INV-1001")["refundable_amount"]

        refund("req-1:refund.issue@3:call-1")
        assert refundable() == 0
        assert foreign_payments(path, "req-1", keep=seeded) == set()
        assert len(foreign_payments(path, "req-2", keep=seeded)) == 1
        assert delete_payments_except(path, seeded) == 1
        assert payment_ids(path) == seeded
        assert refundable() == 49.99
        refund("req-2:refund.issue@3:call-1")
        assert foreign_payments(path, "req-2", keep=seeded) == set()
