"""Status words asserted as the current state of something: "your order has shipped",
"the invoice is paid", "it is in transit", "your invoice is not eligible".

A status word counts only where its clause asserts it (see `grammar`): not in a future or
hedged clause ("it will be delivered", "it should be eligible"), a condition ("once it is
delivered", "if it is eligible"), a question, an infinitive ("to be delivered"), or a
policy about things in general ("cancelled orders are refunded"). Used as a verb with "I",
"we" or "you" ("we shipped it", "you were refunded") it is an action, which `claims`
checks, not a state. A negated status is kept as its opposite where the vocabulary has one
("not eligible", "unpaid", "invalid") and as "not <status>" otherwise.

>>> [m.value for m in find_statuses("It shipped on Monday and will be delivered Friday.")]
['shipped']
>>> [m.value for m in find_statuses("Invoice INV-1001 is not eligible for a refund.")]
['not eligible']
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from shared.grounding.grammar import clause_head, is_generic, parsed, read_clause
from shared.grounding.kinds import Mention

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

# Each status word's canonical form: spellings meet, synonyms ("dispatched", "shipped") do not.
_CANONICAL = {
    "delivered": "delivered",
    # Said of a parcel, having arrived is being delivered ("it arrived on Monday").
    "arrived": "delivered",
    "shipped": "shipped",
    "dispatched": "dispatched",
    "processing": "processing",
    "pending": "pending",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "returned": "returned",
    "refunded": "refunded",
    "paid": "paid",
    "unpaid": "unpaid",
    "void": "void",
    "voided": "void",
    "open": "open",
    "closed": "closed",
    "resolved": "resolved",
    "eligible": "eligible",
    "ineligible": "not eligible",
    "approved": "approved",
    "rejected": "rejected",
    "failed": "failed",
    "issued": "issued",
    "valid": "valid",
    "invalid": "invalid",
}
_PHRASES = {
    ("in", "transit"): "in transit",
    ("out", "for", "delivery"): "out for delivery",
    # Said of a parcel, "on its way" is shipped and not yet delivered (of a refund it says
    # nothing: see `_PARCEL_ONLY`).
    ("on", "its", "way"): "shipped",
}
_PARCEL_ONLY = {("on", "its", "way")}
_PARCEL = re.compile(r"\b(?:orders?|parcels?|packages?|shipments?|ORD-\d+)\b", re.IGNORECASE)
# Every canonical status, for reading a tool's fields named after one (`eligible`).
STATUSES = frozenset([*_CANONICAL.values(), *_PHRASES.values()])
_OPPOSITES = {"eligible": "not eligible", "paid": "unpaid", "valid": "invalid"}
_MENTIONS_A_STATUS = re.compile(
    r"\b(?:" + "|".join([*_CANONICAL, "transit", "delivery", "processed", "way"]) + r")\b",
    re.IGNORECASE,
)
# Verb forms that can state a status; a base form ("open a ticket") states none.
_STATE_TAGS = frozenset({"VBN", "VBD", "VBG"})


def canonical_status(value: str) -> str:
    """The canonical form of a status as a tool writes it: "IN_TRANSIT" is "in transit",
    "canceled" is "cancelled"; an unknown status is kept, lower case."""
    words = " ".join(re.split(r"[\s_-]+", value.strip().lower()))
    return _CANONICAL.get(words, words)


# A status that says another one happened before it: a delivered order has shipped, so
# "it has not shipped yet" is false of it (while "not in transit" is true).
_IMPLIES = {
    "delivered": frozenset({"shipped", "dispatched"}),
    "out for delivery": frozenset({"shipped", "dispatched"}),
    "in transit": frozenset({"shipped", "dispatched"}),
    "shipped": frozenset({"dispatched"}),
    "dispatched": frozenset({"shipped"}),
    "returned": frozenset({"shipped", "dispatched", "delivered"}),
    "refunded": frozenset({"paid"}),
}


def implied_statuses(status: str) -> frozenset[str]:
    """The statuses that `status` says were reached before it ("delivered": "shipped")."""
    return _IMPLIES.get(status, frozenset())


def negated_status(status: str) -> str:
    """What "not <status>" is called: "not eligible", "unpaid", else "not <status>"."""
    return _OPPOSITES.get(status, f"not {status}")


def find_statuses(text: str) -> list[Mention]:
    """The statuses `text` asserts, in order of appearance; parses only a text that has a
    status word in it."""
    if not _MENTIONS_A_STATUS.search(text):
        return []
    with parsed(text) as doc:
        return [mention for token in doc if (mention := _status_at(doc, token)) is not None]


def _status_at(doc: Doc, token: Token) -> Mention | None:
    found = _status_words(doc, token)
    if found is None:
        return None
    status, last = found
    asserted = _asserted(token)
    if asserted is None:
        return None
    value = status if asserted else negated_status(status)
    start, end = token.idx, last.idx + len(last)
    return Mention("status", doc.text[start:end], value, start, end)


def _status_words(doc: Doc, token: Token) -> tuple[str, Token] | None:
    """The canonical status that starts at `token`, with its last token, or None."""
    for words, status in _PHRASES.items():
        following = doc[token.i : token.i + len(words)]
        if tuple(t.lower_ for t in following) == words:
            if words in _PARCEL_ONLY and not _PARCEL.search(token.sent.text):
                return None
            return status, following[-1]
    word = _CANONICAL.get(token.lower_)
    if token.lower_ == "processed":
        # "it is being processed": in process; "it is processed": done, a status of its own
        # (which no order or refund record has: processing is not done).
        being = token.i > 0 and doc[token.i - 1].lower_ == "being"
        word = "processing" if being else "processed"
    if word is None or token.dep_ == "compound":
        return None
    if token.pos_ in ("VERB", "AUX") and token.tag_ not in _STATE_TAGS:
        return None
    return word, token


def _asserted(token: Token) -> bool | None:
    """True if the status at `token` is asserted, False if asserted negated, None if it is
    not asserted at all."""
    if token.dep_ == "amod":  # "your cancelled order": asserted unless of orders in general
        noun = token.head
        clause = read_clause(clause_head(noun))
        return None if is_generic(noun) or clause.conditional or clause.question else True
    head = clause_head(token)
    clause = read_clause(head)
    if head.i == token.i and clause.personal_subject:
        return None  # "we shipped it", "you were refunded": an action, not a state
    if clause.question or clause.conditional or clause.nonfinite or clause.modal:
        return None
    subject = clause.subject
    if subject is not None and is_generic(subject) and clause.simple_present:
        return None
    return not clause.negated
