"""Sentences that say an action happened, is under way, or will reach the customer, in any
wording, read from the grammar (see `grammar`) rather than from lists of phrases.

A word of an action's vocabulary (a verb or noun lemma: "refund", "reimburse") makes its
sentence a claim when its clause says the thing is done or coming:

- as a verb: "we refunded you", "I have refunded", "you were refunded", "we are processing
  a refund", "your order is cancelled", "we will refund you";
- as a noun: "a refund has been issued", "your refund is on its way", "the refund was
  completed", "you will receive a refund", "we are processing your refund".

It is no claim when negated ("no refund was issued", "we could not refund", a refund that
was declined or failed), hedged ("you may request a refund", "we can refund"), a condition
("if eligible, ...", "once it is approved, ..."), a question, an infinitive or gerund ("we
are unable to refund", "to get a refund", "thank you for requesting a refund"), a policy
about things in general in the plain present ("refunds take 5-7 business days", "we refund
duplicate charges"), the customer's own request ("you asked for a refund"), or a noun
modifier ("the refund policy"). Ambiguity about this customer's own action counts as a
claim: "your refund" as a subject is one whatever the verb ("your refund should appear").

>>> refund = ActionVocabulary(frozenset({"refund", "reimburse"}))
>>> [c.action for c in claimed_actions("We have reimbursed you.", {"refund": refund})]
['refund']
>>> claimed_actions("If eligible, we can refund you.", {"refund": refund})
[]
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.grounding.grammar import (
    FUTURE_MODALS,
    POSSIBILITY_MODALS,
    Clause,
    clause_head,
    has_negative_determiner,
    is_generic,
    parsed,
    read_clause,
)
from shared.grounding.matching import Finding

if TYPE_CHECKING:
    from spacy.tokens import Token

# Verbs that undo or withhold what their object names: "your refund was declined".
_REFUSALS = frozenset(
    {"reject", "decline", "deny", "refuse", "fail", "cancel", "reverse", "block", "stop"}
)
# Verbs by which the customer comes to have what their object names: "you received a refund".
_RECEIPTS = frozenset({"receive", "get", "obtain"})
_SUBJECTS = frozenset({"nsubj", "nsubjpass"})
_NOUNS = frozenset({"NOUN", "PROPN"})
_PARTICIPLES = frozenset({"VBN", "VBD"})
_OBJECTS = frozenset({"dobj", "dative"})
_PREFIX = 4


@dataclass(frozen=True, slots=True)
class ActionVocabulary:
    """The lemmas, verbs and nouns, an answer uses for one action. Example:
    `ActionVocabulary(frozenset({"refund", "reimburse", "credit", "repay"}))`."""

    lemmas: frozenset[str]


@dataclass(frozen=True, slots=True)
class Claim:
    """A sentence, `text[sentence_start:sentence_end]`, that claims `action` happened.
    Example: `Claim(action="refund", sentence_start=0, sentence_end=23)`."""

    action: str
    sentence_start: int
    sentence_end: int


def claimed_actions(text: str, actions: Mapping[str, ActionVocabulary]) -> list[Claim]:
    """The claims of each action in `text`, one per action and sentence, in order; parses
    only a text that has a word starting like one of the lemmas."""
    return _sentences_where(text, actions, _claims)


def refused_actions(text: str, actions: Mapping[str, ActionVocabulary]) -> list[Claim]:
    """The sentences of `text` that say an action was or will not be done for the customer:
    "I cannot refund invoice INV-1004", "it is not eligible for a refund", "no refund was
    made". Example:

    >>> refund = {"refund": ActionVocabulary(frozenset({"refund"}))}
    >>> [c.action for c in refused_actions("We cannot refund this invoice.", refund)]
    ['refund']
    >>> refused_actions("We have refunded 20 USD.", refund)
    []
    """
    return _sentences_where(text, actions, _refuses)


def mentioned_actions(text: str, actions: Mapping[str, ActionVocabulary]) -> list[Claim]:
    """The sentences of `text` that name an action outside a question, in any wording:
    claimed, hedged, conditional, general or refused. Example:

    >>> refund = {"refund": ActionVocabulary(frozenset({"refund"}))}
    >>> [c.action for c in mentioned_actions("You can only refund refundable items.", refund)]
    ['refund']
    >>> mentioned_actions("Can I get a refund?", refund)
    []
    """
    return _sentences_where(
        text, actions, lambda token: not read_clause(clause_head(token)).question
    )


def _sentences_where(
    text: str, actions: Mapping[str, ActionVocabulary], holds: Callable[[Token], bool]
) -> list[Claim]:
    """Each sentence, once per action, with a word of the action's vocabulary for which
    `holds`; parses only a text with a word starting like one of the lemmas."""
    lowered = text.lower()
    wanted = {
        action: vocabulary
        for action, vocabulary in actions.items()
        if any(lemma[:_PREFIX].lower() in lowered for lemma in vocabulary.lemmas)
    }
    if not wanted:
        return []
    found: list[Claim] = []
    with parsed(text) as doc:
        for token in doc:
            words = _lemmas(token)
            for action, vocabulary in wanted.items():
                if words & vocabulary.lemmas and holds(token):
                    sentence = Claim(action, token.sent.start_char, token.sent.end_char)
                    if sentence not in found:
                        found.append(sentence)
    return found


def unbacked_claims(
    text: str, actions: Mapping[str, ActionVocabulary], completed: Collection[str]
) -> list[Finding]:
    """A finding for each claim in `text` of an action not in `completed` (the actions whose
    side-effect calls completed in this request). Example:

    >>> refund = {"refund": ActionVocabulary(frozenset({"refund"}))}
    >>> [f.describe() for f in unbacked_claims("Your refund was issued.", refund, set())]
    ["the answer says the action 'refund' was done, but no 'refund' call completed in this \
request"]
    """
    return [
        Finding(
            "action",
            text[claim.sentence_start : claim.sentence_end],
            claim.sentence_start,
            claim.sentence_end,
            action=claim.action,
        )
        for claim in claimed_actions(text, actions)
        if claim.action not in completed
    ]


def _lemmas(token: Token) -> set[str]:
    """The lemmas `token` may have. A participle tagged as an adjective keeps its ending
    ("is refunded"), so its stems are tried too: "refund", "issue", "cancel"."""
    words = {token.lemma_.lower(), token.lower_}
    if _adjectival_participle(token):
        word = token.lower_
        words |= {word[:-1], word[:-2], word[:-3]}
    return words


def _adjectival_participle(token: Token) -> bool:
    return token.pos_ == "ADJ" and token.lower_.endswith("ed")


def _claims(token: Token) -> bool:
    participle = token.tag_ in _PARTICIPLES or _adjectival_participle(token)
    if token.pos_ in _NOUNS:
        return _noun_claims(token)
    if token.dep_ == "amod" and participle:
        return _attribute_claims(token)
    if token.pos_ == "VERB" or participle:
        return _verb_claims(token)
    return False


def _refuses(token: Token) -> bool:
    if token.pos_ in _NOUNS and has_negative_determiner(token):
        return True
    clause = read_clause(clause_head(token))
    return clause.negated or (clause.head.lemma_ in _REFUSALS and clause.head.i != token.i)


def _noun_claims(noun: Token) -> bool:
    """ "A refund has been issued", "your refund is on its way", "you will get a refund"."""
    if noun.dep_ == "compound":
        if not _names_a_record(noun.head):
            return False  # "the refund policy", "your refund request"
        noun = noun.head  # "ticket TCK-123 has been created": the ticket is TCK-123
    if has_negative_determiner(noun):
        return False
    clause = read_clause(clause_head(noun))
    refused = clause.head.lemma_ in _REFUSALS and clause.head.i != noun.i
    if refused or clause.negated or clause.conditional or clause.question:
        return False
    yours = any(child.dep_ == "poss" and child.lower_ == "your" for child in noun.children)
    if yours and noun.dep_ in _SUBJECTS:
        return True  # "your refund ..." takes the refund as given, whatever the verb says
    if _customer_acts(clause) and noun.dep_ not in _SUBJECTS and not yours:
        # "you asked for a refund" is no refund; "you will receive a refund" promises one,
        # and "you have received a refund" says it came.
        expected = clause.modal == "should" and not is_generic(noun)
        received = clause.head.lemma_ in _RECEIPTS and clause.past and not clause.modal
        return clause.modal in FUTURE_MODALS or expected or received
    return not (_hedged(clause) or (is_generic(noun) and clause.simple_present))


def _verb_claims(verb: Token) -> bool:
    """ "We refunded you", "you were refunded", "we are refunding", "your order is cancelled"."""
    clause = read_clause(verb)
    if clause.negated or clause.conditional or clause.question or _hedged(clause):
        return False
    if _customer_acts(clause):
        return False  # "you cancelled the order": the customer's doing, not this request's
    subject = clause.subject
    if subject is not None and is_generic(subject) and clause.simple_present:
        return False  # "refunds are issued within 5 days"
    return not (clause.simple_present and not clause.passive and _objects_generic(verb))


def _attribute_claims(participle: Token) -> bool:
    """ "Your cancelled order", "the refunded amount": claims unless of things in general."""
    noun = participle.head
    clause = read_clause(clause_head(noun))
    return not (is_generic(noun) or clause.conditional or clause.question)


def _names_a_record(noun: Token) -> bool:
    """Whether `noun` is a record's name or id ("TCK-123"), which a compound before it
    ("ticket") only says the kind of."""
    return noun.pos_ == "PROPN" or any(character.isdigit() for character in noun.text)


def _hedged(clause: Clause) -> bool:
    return clause.nonfinite or clause.modal in POSSIBILITY_MODALS


def _customer_acts(clause: Clause) -> bool:
    subject = clause.subject
    return subject is not None and subject.lower_ == "you" and not clause.passive


def _objects_generic(verb: Token) -> bool:
    """Whether the verb acts on things in general, or on nothing named: "we refund
    duplicate charges", "we refund within 30 days"."""
    objects = [child for child in verb.children if child.dep_ in _OBJECTS]
    return all(o.pos_ in _NOUNS and is_generic(o) for o in objects)
