"""What an answer says happened or holds, beyond single facts: actions claimed (a refund, a
ticket, a cancellation, an escalation, a replacement), refusals, an order's status, how
often an invoice was charged and why it cannot be refunded.

The text is cut into sentences and clauses; a clause is negated when it carries a negation
("cannot", "not eligible", "n't", "no", "nothing"), and a question is no claim. Everything
else that names an action is a claim of it, in any tense: "will be refunded" is as much a
claim as "has been refunded". `strict` (the conversation is about that very thing, e.g. an
invoice for refunds) counts even conditional and general wording as a claim ("when in doubt,
count it"); otherwise only wording that says the action was done or that the assistant does
it ("I have ...", "has been ...", "I'll ...") counts, so a policy answer ("refunds appear
within 5 to 7 business days") is not a refund claim.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tests.model.answers.facts import plain

__all__ = [
    "ActionMention",
    "action_mentions",
    "charge_count_claims",
    "clauses",
    "refusal_reasons",
    "status_claims",
]

_I = re.IGNORECASE


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", _I)


# A zero amount says nothing is paid: "the refundable amount is zero", "a refund of 0.00 USD".
_NEGATION = re.compile(
    r"\b(?:not|no|never|nothing|none|cannot|can ?not|unable|ineligible|neither|nor|without|"
    r"cant|wont|isnt|doesnt|dont|didnt|zero)\b|n't\b|(?<![\w.])0(?:\.0+)?(?![\w.])",
    _I,
)
# Wording that says the action was done, or that the assistant itself does it.
_DONE_OR_PROMISED = re.compile(
    r"\b(?:has|have|had|was|were|been|did|done|already|just|successfully)\b|"
    r"\b(?:i|we)(?:'ve|'ll|'m| have| will| am| are|'re)\b|\bi\b",
    _I,
)
_HYPOTHETICAL = _words(
    r"if", r"once", r"when", r"whether", r"unless", r"until", r"can", r"could", r"may", r"might"
)
_CLAUSE_BREAK = re.compile(
    r"[,;:()]|\s-\s|\b(?:and|but|so|because|since|while|although|though|however|whereas)\b",
    _I,
)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Clause:
    text: str
    sentence: str
    question: bool

    @property
    def negated(self) -> bool:
        return _NEGATION.search(self.text) is not None


def clauses(text: str) -> Iterator[Clause]:
    for piece in _SENTENCE_BREAK.split(plain(text).strip()):
        sentence = piece.strip()
        if not sentence:
            continue
        question = sentence.endswith("?")
        for part in _CLAUSE_BREAK.split(sentence):
            if part.strip():
                yield Clause(part.strip(), sentence, question)


@dataclass(frozen=True)
class _Action:
    name: str
    stem: re.Pattern[str]
    # Needed in the same clause too (a ticket is a claim only with a verb that opens it).
    verb: re.Pattern[str] | None = None
    # Phrases that name the action without claiming it ("refund policy").
    nouns: re.Pattern[str] | None = None


_ACTIONS = (
    _Action(
        "refund",
        _words(
            r"refund\w*",
            r"reimburs\w*",
            r"repa(?:id|y\w*)",
            r"money back",
            r"credited",
            r"paid back",
            r"revers(?:ed|al)",
            r"eligib\w*",
            r"qualif(?:y|ies|ied)",
        ),
        nouns=re.compile(r"\brefunds?\s+(?:polic(?:y|ies)|window|rules?|limits?|period)\b", _I),
    ),
    _Action(
        "ticket",
        re.compile(r"\b(?:ticket|incident|INC-\d+)\b", _I),
        verb=re.compile(
            r"\b(?:open\w*|creat\w*|fil(?:e|ed|ing)|rais\w*|logg?\w*|submit\w*|INC-\d+)\b", _I
        ),
    ),
    _Action("cancel", _words(r"cancell?(?:ed|ing|ation)", r"cancel")),
    _Action(
        "escalate",
        _words(
            r"escalat\w*",
            r"forward(?:ed|ing)",
            r"transferr(?:ed|ing)",
            r"pass(?:ed|ing) (?:it|this|your \w+) (?:on|along)",
            r"hand(?:ed|ing) (?:it|this|your \w+) (?:over|on)",
            r"will (?:look into|contact you|get back to you|be in touch|reach out)",
            r"'ll (?:look into|contact you|get back to you|be in touch|reach out)",
        ),
    ),
    _Action(
        "replacement",
        _words(r"replacement", r"replac(?:e|ed|ing)", r"re-?sen[dt]", r"new (?:parcel|package)"),
    ),
)
ACTION_NAMES = tuple(action.name for action in _ACTIONS)


@dataclass(frozen=True)
class ActionMention:
    """An action a clause names: `claimed` when it says the action happens or happened,
    `refused` when it says it does not (negated), neither when it sends the customer
    elsewhere ("other refunds need a person", "contact customer service for refunds").
    `definite`: claimed in words that say it was done or that the assistant does it, not
    as a possibility ("I have refunded", "has been refunded", "I'll refund")."""

    action: str
    clause: str
    claimed: bool
    refused: bool
    definite: bool = False


def action_mentions(text: str, *, strict: frozenset[str] = frozenset()) -> list[ActionMention]:
    """The actions `text` names, clause by clause. Actions in `strict` count as claimed
    in any affirmative wording; the others only when said to be done or promised."""
    found = []
    for clause in clauses(text):
        if clause.question:
            continue
        for action in _ACTIONS:
            body = action.nouns.sub(" ", clause.text) if action.nouns else clause.text
            if not action.stem.search(body):
                continue
            if action.verb is not None and not action.verb.search(body):
                continue
            if clause.negated:
                if action.name == "refund" and _ORIGINAL_CHARGE.search(body):
                    continue  # "the original charge is not refunded": no refusal of the refund
                found.append(ActionMention(action.name, clause.text, claimed=False, refused=True))
                continue
            if _ELSEWHERE.search(clause.text):
                found.append(ActionMention(action.name, clause.text, claimed=False, refused=False))
                continue
            definite = (
                _DONE_OR_PROMISED.search(clause.text) is not None
                and _HYPOTHETICAL.search(clause.text) is None
            )
            claimed = definite or action.name in strict
            found.append(
                ActionMention(
                    action.name, clause.text, claimed=claimed, refused=False, definite=definite
                )
            )
    return found


# Sends the customer elsewhere for it: neither a claim nor a refusal.
_ELSEWHERE = re.compile(
    r"\b(?:needs?|requires?) (?:a person|approval|manual approval|to be approved|a review)\b|"
    r"\bmust be (?:approved|reviewed)\b|"
    r"\b(?:please )?(?:contact|ask|call|email|reach out to|get in touch with)\b",
    _I,
)
_ORIGINAL_CHARGE = re.compile(r"\boriginal (?:charge|payment)\b(?! method)", _I)


# ---------------------------------------------------------------- order status


@dataclass(frozen=True)
class _Status:
    status: str
    pattern: re.Pattern[str]
    # The pattern carries its own negation ("has not shipped yet" says processing).
    negated_form: bool = False


_STATUSES = (
    _Status(
        "processing",
        re.compile(
            r"\b(?:has not|hasn't|have not|haven't|is not|isn't|not)\s+(?:yet\s+)?"
            r"(?:been\s+)?(?:shipped|dispatched|sent out)\b",
            _I,
        ),
        negated_form=True,
    ),
    _Status(
        "processing",
        _words(r"processing", r"being (?:processed|prepared|packed|handled)", r"pending"),
    ),
    _Status("out_for_delivery", _words(r"out for delivery")),
    _Status("delivered", _words(r"delivered", r"arrived", r"been received")),
    _Status(
        "shipped",
        _words(
            r"shipped",
            r"dispatched",
            r"in transit",
            r"on (?:its|the) way",
            r"sent out",
            r"left (?:our|the) warehouse",
        ),
    ),
    _Status("cancelled", _words(r"cancell?ed")),
    _Status("lost", _words(r"lost")),
    _Status("delayed", _words(r"delayed", r"running late", r"stuck", r"on hold")),
)
# Before the status word in its clause: it is not said to be the status now.
_NOT_NOW = re.compile(
    r"\b(?:will|would|should|could|may|might|expected|expect|estimated|due|scheduled|going|"
    r"to be|once|when|until|after|before|if|not|never|yet|soon|can|marked|shows?|says?)\b|n't\b",
    _I,
)


def status_claims(text: str) -> list[tuple[str, str]]:
    """(status, clause) for each order status the text says holds now."""
    found = []
    for clause in clauses(text):
        if clause.question:
            continue
        spans: list[tuple[int, int]] = []
        for status in _STATUSES:
            for match in status.pattern.finditer(clause.text):
                if any(match.start() < end and start < match.end() for start, end in spans):
                    continue
                spans.append(match.span())
                before = clause.text[: match.start()]
                if not status.negated_form and _NOT_NOW.search(before):
                    continue
                found.append((status.status, clause.text))
    return found


# ---------------------------------------------------------------- invoices

_CHARGED_MORE = re.compile(
    r"\b(?:charged|billed|paid|taken|went through)\s+(?:you\s+|it\s+)?"
    r"(?:twice|two times|2 times|2x|double|more than once)\b|"
    r"\bdouble[- ]?(?:charged|charge|billed|billing|payment)\b|"
    r"\bduplicate(?:d)?\s+(?:charge|payment|billing)s?\b|\bcharged \w+ times\b",
    _I,
)
_CHARGED_ONCE = re.compile(
    r"\b(?:charged|billed|paid)\s+(?:only\s+)?once\b|\bonly (?:been )?(?:charged )?once\b|"
    r"\b(?:a )?single (?:charge|payment)\b|\bonly one (?:charge|payment)\b",
    _I,
)
_LOOKING = re.compile(r"\b(?:check\w*|look\w* (?:for|into)|whether|if|any)\b", _I)


def charge_count_claims(text: str) -> list[tuple[str, str]]:
    """("more" | "once", clause): how often the text says the invoice was charged."""
    found = []
    for clause in clauses(text):
        if clause.question or _LOOKING.search(clause.text):
            continue
        if _CHARGED_ONCE.search(clause.text):
            found.append(("once", clause.text))
        elif _CHARGED_MORE.search(clause.text):
            found.append(("once" if clause.negated else "more", clause.text))
    return found


REFUSAL_REASONS = ("window", "void", "no_duplicate", "limit", "already_refunded")
_REASONS = {
    "window": re.compile(
        r"\b(?:older than|too old|(?:outside|exceeds?|past|beyond) (?:of )?(?:the|our) "
        r"(?:\d+[- ]day )?(?:refund )?(?:window|period)|"
        r"(?:window|period) (?:has )?(?:passed|expired|closed|ended)|"
        r"expired|more than \d+ days (?:ago|old))\b",
        _I,
    ),
    "void": _words(r"void(?:ed)?"),
    "no_duplicate": re.compile(
        r"\b(?:(?:only )?(?:been )?charged (?:only )?once|no duplicate|not (?:a )?duplicate|"
        r"single (?:charge|payment)|only one (?:charge|payment))\b",
        _I,
    ),
    "limit": re.compile(
        r"\b(?:limit|(?:exceeds?|above|over) (?:the |our )?(?:automatic |refund )?"
        r"(?:limit|maximum|max)|too (?:large|high|big)|"
        r"(?:needs?|requires?) (?:a person'?s? |manual )?approval|must be approved|"
        r"must approve)\b",
        _I,
    ),
    "already_refunded": re.compile(r"\balready (?:been )?refunded\b", _I),
}


def refusal_reasons(text: str) -> list[tuple[str, str]]:
    """(reason, matched words) for each reason a refund would be refused that the text gives."""
    return [
        (reason, match.group())
        for reason, pattern in _REASONS.items()
        for match in pattern.finditer(plain(text))
    ]
