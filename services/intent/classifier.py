"""Intent classification: logistic regression over the catalog examples' sentence embeddings,
trained at start-up, with calibrated probabilities and a clear reason whenever it gives up."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from services.intent.catalog import OUT_OF_SCOPE, IntentCatalog
from services.intent.language import LanguageCheck
from shared.embeddings import Embedder

F64 = npt.NDArray[np.float64]
UNSURE = "unsure"
_MIN_LETTERS = 2
_MIN_LATIN_SHARE = 0.6


@dataclass(frozen=True)
class Classification:
    """The likeliest class (a declared intent or `out_of_scope`), its probability
    (`confidence`), every class's probability best first, and whether, and why, the request
    must not be routed on it."""

    intent: str
    confidence: float
    scores: tuple[tuple[str, float], ...]
    unsure: bool = False
    reason: str = ""

    @property
    def fallback(self) -> bool:
        return self.unsure or self.intent == OUT_OF_SCOPE

    @property
    def route(self) -> str:
        """What the first stage decided: an intent, `out_of_scope`, or `unsure`."""
        return UNSURE if self.unsure else self.intent


class IntentClassifier:
    """Example:

    >>> classifier = IntentClassifier(catalog, default_embedder())  # doctest: +SKIP
    >>> classifier.warm_up()  # doctest: +SKIP
    >>> classifier.classify(["I was charged twice"])[0].intent  # doctest: +SKIP
    'refund'
    """

    def __init__(self, catalog: IntentCatalog, embedder: Embedder) -> None:
        self._catalog = catalog
        self._embedder = embedder
        self._model: LogisticRegression | None = None
        self._language = LanguageCheck(catalog.classifier.language)

    def warm_up(self) -> None:
        """Load the embedder and the language identifier, and train on the catalog's
        examples, once."""
        self._embedder.warm_up()
        self._language.warm_up()
        self._trained()

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        """Classify each text; CPU-bound, so call it off the event loop."""
        refusals = [self._refusal(text) for text in texts]
        readable = [text for text, refusal in zip(texts, refusals, strict=True) if not refusal]
        model = self._trained()
        probabilities: F64 = (
            model.predict_proba(self._embedder.embed(readable)) if readable else np.empty((0, 0))
        )
        rows = iter(probabilities)
        return [
            Classification(intent=UNSURE, confidence=0.0, scores=(), unsure=True, reason=refusal)
            if refusal
            else self._decide(next(rows), [str(c) for c in model.classes_])
            for refusal in refusals
        ]

    def _trained(self) -> LogisticRegression:
        if self._model is None:
            texts: list[str] = []
            labels: list[str] = []
            groups = {name: spec.examples for name, spec in self._catalog.intents.items()}
            groups[OUT_OF_SCOPE] = self._catalog.out_of_scope
            for name, examples in groups.items():
                texts.extend(examples)
                labels.extend([name] * len(examples))
            model = LogisticRegression(
                C=self._catalog.classifier.regularisation, class_weight="balanced", max_iter=2000
            )
            self._model = model.fit(self._embedder.embed(texts), labels)
        return self._model

    def _refusal(self, text: str) -> str:
        """Why `text` cannot be classified at all, or ""."""
        limit = self._catalog.classifier.max_chars
        if not text.strip():
            return "the message is empty"
        if len(text) > limit:
            return f"the message is longer than {limit} characters"
        letters = [c for c in text if c.isalpha()]
        if len(letters) < _MIN_LETTERS:
            return "the message has no words"
        latin = sum(unicodedata.name(c, "").startswith("LATIN") for c in letters)
        if latin / len(letters) < _MIN_LATIN_SHARE:
            return "the message is in a script the classifier does not read (English only)"
        return self._language.refusal(text)

    def _decide(self, probabilities: F64, classes: list[str]) -> Classification:
        order = np.argsort(-probabilities, kind="stable")
        scores = tuple((classes[i], float(probabilities[i])) for i in order)
        (best, p_best), (_, p_next) = scores[0], scores[1]
        bars = self._catalog.classifier
        if p_best < bars.min_probability:
            reason = f"no route is likely enough ({best} {p_best:.2f} < {bars.min_probability})"
        elif p_best - p_next < bars.min_margin:
            reason = f"two routes are too close ({best} {p_best:.2f}, next {p_next:.2f})"
        else:
            reason = ""
        unsure = bool(reason)
        if not unsure and best == OUT_OF_SCOPE:
            reason = "the message is about nothing this service handles"
        return Classification(
            intent=best, confidence=p_best, scores=scores, unsure=unsure, reason=reason
        )
