"""A request's priority, read from its wording: sentiment (VADER) and urgency (cues)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from services.intent.catalog import PriorityLevel, PrioritySpec

_SHOUTING = re.compile(r"!!|\b[A-Z]{3,}(?:\s+[A-Z]{2,}){1,}\b")


@dataclass(frozen=True)
class Priority:
    sentiment: float
    urgency: float
    level: PriorityLevel


class PriorityReader:
    """Example:

    >>> reader = PriorityReader(catalog.priority)  # doctest: +SKIP
    >>> reader.read("You are useless, I need this fixed TODAY!!").level  # doctest: +SKIP
    'urgent'
    """

    def __init__(self, spec: PrioritySpec) -> None:
        self._spec = spec
        self._sentiment = SentimentIntensityAnalyzer()
        self._cues = re.compile(
            r"\b(?:" + "|".join(re.escape(cue) for cue in spec.urgency_cues) + r")\b",
            re.IGNORECASE,
        )

    def read(self, text: str) -> Priority:
        sentiment = float(self._sentiment.polarity_scores(text)["compound"])
        cues = len(self._cues.findall(text))
        shouting = self._spec.shouting if _SHOUTING.search(text) else 0.0
        urgency = min(1.0, cues * self._spec.per_cue + shouting)
        level = next(
            rule.level
            for rule in self._spec.rules
            if (rule.sentiment_at_most is None or sentiment <= rule.sentiment_at_most)
            and (rule.urgency_at_least is None or urgency >= rule.urgency_at_least)
        )
        return Priority(sentiment=sentiment, urgency=urgency, level=level)
