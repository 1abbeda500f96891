"""Claimed actions: the wordings that say an action happened, is under way or will reach the
customer, the wordings that only mention it, and the findings for claims no call backs."""

from __future__ import annotations

import pytest

from shared.grounding import (
    ActionVocabulary,
    Claim,
    claimed_actions,
    refused_actions,
    unbacked_claims,
)

ACTIONS = {
    "refund": ActionVocabulary(frozenset({"refund", "reimburse", "credit", "repay"})),
    "cancel": ActionVocabulary(frozenset({"cancel", "cancellation"})),
    "open_ticket": ActionVocabulary(frozenset({"open", "file", "raise", "ticket"})),
}


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("I have refunded 49.99 USD to your card.", "refund"),
        ("We refunded the duplicate charge.", "refund"),
        ("You were refunded on December 9.", "refund"),
        ("You have been reimbursed for the duplicate charge.", "refund"),
        ("30.00 USD has been credited to your card.", "refund"),
        ("A refund of 30.00 USD has been issued to your card.", "refund"),
        ("Your refund has been processed.", "refund"),
        ("The refund was sent to your original payment method.", "refund"),
        ("Your refund has been approved.", "refund"),
        ("A refund has been initiated for invoice INV-1001.", "refund"),
        ("Your refund is on its way.", "refund"),
        ("The refund was completed yesterday.", "refund"),
        ("The duplicate charge of 49.99 USD is refunded.", "refund"),
        ("I've issued a refund for the duplicate charge on INV-1001.", "refund"),
        ("Good news: we've gone ahead and refunded your invoice INV-1001.", "refund"),
        ("Refund issued.", "refund"),
        ("We are processing your refund.", "refund"),
        ("Your refund is being processed.", "refund"),
        ("You will receive your refund within 5-7 business days.", "refund"),
        ("Your refund will arrive in 5 to 7 business days.", "refund"),
        ("You will receive a full refund.", "refund"),
        ("You have received a refund of 20 USD.", "refund"),
        ("You got your refund yesterday.", "refund"),
        ("We will refund the duplicate charge.", "refund"),
        ("I am going to refund you now.", "refund"),
        ("Your refund should appear on your statement within 5-7 business days.", "refund"),
        ("Please allow 5-7 business days for your refund to appear.", "refund"),
        ("Your order ORD-5001 has been cancelled.", "cancel"),
        ("I cancelled your order ORD-5001.", "cancel"),
        ("I have opened a ticket for you.", "open_ticket"),
        ("Ticket TCK-123 has been created for your issue.", "open_ticket"),
    ],
)
def test_a_sentence_saying_the_action_is_done_under_way_or_coming_is_a_claim(
    text: str, action: str
) -> None:
    claims = [claim.action for claim in claimed_actions(text, ACTIONS)]
    assert claims == [action], f"{text!r} claims {action!r}; read {claims}"


@pytest.mark.parametrize(
    "text",
    [
        # negated
        "I could not refund your invoice.",
        "No refund was issued.",
        "I have not refunded you yet.",
        "We never issued a refund.",
        "Your invoice INV-1001 is not eligible for a refund.",
        # withheld
        "Your refund request was declined.",
        "Unfortunately, your refund was rejected.",
        # hedged, infinitive or gerund
        "We are unable to refund your invoice.",
        "You may request a refund.",
        "I'd be happy to help you with a refund.",
        "You can open a ticket on our support page.",
        "You can cancel an order until it ships.",
        "To get a refund, please contact our billing team.",
        "Thank you for requesting a refund.",
        # conditional
        "If eligible, we can refund you.",
        "If you want, I can open a ticket for you.",
        "Once the refund is approved, you will receive an email.",
        "You will receive an email when the refund is issued.",
        "A refund is issued as soon as the item reaches our warehouse.",
        # questions
        "Would you like a refund?",
        "Have we refunded you already?",
        # policy about things in general
        "Refunds take 5-7 business days.",
        "The refund policy allows refunds within 30 days.",
        "Refunds are usually issued within 5-7 business days.",
        "We refund duplicate charges in full.",
        "A cancelled order is refunded in full.",
        "Refunds larger than 500 USD need approval from the billing team.",
        "You are entitled to a refund under our policy.",
        "You are eligible for a refund of 49.99 USD.",
        # the customer's own doing
        "You asked for a refund for invoice INV-1001.",
        # no action at all: an invented reason is a status (see the evidence tests)
        "The payment method for invoice INV-1001 was not valid.",
    ],
)
def test_a_sentence_that_only_mentions_the_action_is_no_claim(text: str) -> None:
    claims = claimed_actions(text, ACTIONS)
    assert claims == [], f"{text!r} claims nothing; read {[c.action for c in claims]}"


def test_a_claim_spans_its_sentence() -> None:
    text = "I checked invoice INV-1001. The refund was sent today. Anything else?"
    (claim,) = claimed_actions(text, ACTIONS)
    assert text[claim.sentence_start : claim.sentence_end] == "The refund was sent today."


def test_one_claim_per_action_and_sentence() -> None:
    text = "I have opened ticket TCK-123. We refunded you and credited your card."
    assert claimed_actions(text, ACTIONS) == [
        Claim("open_ticket", 0, text.index(" We")),
        Claim("refund", text.index("We"), len(text)),
    ]


def test_a_text_without_any_action_word_is_no_claim() -> None:
    assert claimed_actions("Your order ORD-5001 has shipped.", ACTIONS) == []


def test_a_claim_of_a_completed_action_is_backed() -> None:
    text = "Your refund of 49.99 USD has been issued."
    assert unbacked_claims(text, ACTIONS, completed={"refund"}) == []


def test_a_claim_of_an_action_no_call_completed_is_a_finding_without_values() -> None:
    text = "I checked INV-1001. Your refund of 49.99 USD has been issued."
    (finding,) = unbacked_claims(text, ACTIONS, completed={"open_ticket"})
    assert finding.kind == "action"
    assert finding.action == "refund"
    assert text[finding.start : finding.end] == finding.written
    assert finding.describe() == (
        "the answer says the action 'refund' was done, but no 'refund' call completed "
        "in this request"
    )
    assert "49.99" not in finding.describe(), "the value must stay out of the message"
    assert "49.99" not in repr(finding), "the value must stay out of logs"


def test_a_refusal_needs_no_call() -> None:
    text = "Your invoice INV-1001 is not eligible for a refund, so no refund was issued."
    assert unbacked_claims(text, ACTIONS, completed=set()) == []


@pytest.mark.parametrize(
    "text",
    [
        "I cannot refund invoice INV-1004: the charges exceed the limit of 100.0 USD.",
        "Invoice INV-1004 is not eligible for a refund.",
        "Your invoice of 200.0 USD cannot be refunded automatically.",
        "No refund of 200.0 USD can be made.",
        "Your refund of 200.0 USD was declined.",
    ],
)
def test_a_sentence_that_withholds_the_action_is_a_refusal(text: str) -> None:
    assert [r.action for r in refused_actions(text, ACTIONS)] == ["refund"], text


@pytest.mark.parametrize(
    "text", ["I have refunded 49.99 USD.", "We can refund 20 USD today.", "Refunds take 5 days."]
)
def test_a_sentence_that_does_or_offers_the_action_is_no_refusal(text: str) -> None:
    assert refused_actions(text, ACTIONS) == [], text
