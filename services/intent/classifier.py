"""Intent classification: logistic regression over the catalog examples' sentence embeddings
and character n-grams, trained at start-up, with calibrated probabilities and a clear reason
whenever it gives up."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix, hstack
from scipy.special import softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from services.intent.catalog import OUT_OF_SCOPE, CharacterNgrams, IntentCatalog
from services.intent.language import LanguageCheck
from shared.embeddings import Embedder, StoredVectors
from shared.embeddings.embedder import F32

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


class _Features:
    """Each text's embedding, beside the weighted TF-IDF of its character n-grams (fitted on
    the examples) when the catalog asks for them."""

    def __init__(
        self, embedder: Embedder, ngrams: CharacterNgrams, examples: Embedder | StoredVectors
    ) -> None:
        self._embedder = embedder
        self._examples = examples
        self._weight = ngrams.weight
        self._ngrams = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(ngrams.smallest, ngrams.largest), sublinear_tf=True
        )

    def fit(self, examples: Sequence[str]) -> csr_matrix:
        if self._weight:
            self._ngrams.fit(examples)
        return self._features(examples, self._examples.embed(examples))

    def __call__(self, texts: Sequence[str]) -> csr_matrix:
        return self._features(texts, self._embedder.embed(texts))

    def _features(self, texts: Sequence[str], vectors: F32) -> csr_matrix:
        if not self._weight:
            return csr_matrix(vectors)
        ngrams = self._weight * self._ngrams.transform(texts)
        return hstack([csr_matrix(vectors), ngrams], format="csr")


class IntentClassifier:
    """Example:

    >>> classifier = IntentClassifier(catalog, default_embedder())  # doctest: +SKIP
    >>> classifier.warm_up()  # doctest: +SKIP
    >>> classifier.classify(["I was charged twice"])[0].intent  # doctest: +SKIP
    'refund'
    """

    def __init__(
        self, catalog: IntentCatalog, embedder: Embedder, vectors_dir: Path | None = None
    ) -> None:
        """`vectors_dir` keeps the examples' vectors, so a restart trains without embedding
        them again."""
        self._catalog = catalog
        self._embedder = embedder
        self._model: LogisticRegression | None = None
        examples = embedder if vectors_dir is None else StoredVectors(embedder, vectors_dir)
        self._features = _Features(embedder, catalog.classifier.character_ngrams, examples)
        self._language = LanguageCheck(catalog.classifier.language)

    def warm_up(self) -> None:
        """Load the embedder and the language identifier, and train on the catalog's
        examples, once."""
        self._embedder.warm_up()
        self._language.warm_up()
        self._trained()

    def train(self) -> None:
        """Fit on the catalog's examples (embedding them, or reading their stored vectors),
        once; `warm_up` does this too."""
        self._trained()

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        """Classify each text; CPU-bound, so call it off the event loop."""
        refusals = [self._refusal(text) for text in texts]
        readable = [text for text, refusal in zip(texts, refusals, strict=True) if not refusal]
        model = self._trained()
        probabilities: F64 = self._probabilities(model, readable) if readable else np.empty((0, 0))
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
            self._model = model.fit(self._features.fit(texts), labels)
        return self._model

    def _probabilities(self, model: LogisticRegression, texts: Sequence[str]) -> F64:
        """The softmax of the model's scores over `temperature` (temperature scaling: the
        regression's own probabilities are too timid once it is regularised)."""
        scores: F64 = model.decision_function(self._features(texts))
        if scores.ndim == 1:  # two routes: one score, for the second class
            scores = np.column_stack([np.zeros_like(scores), scores])
        return softmax(scores / self._catalog.classifier.temperature, axis=1)  # type: ignore[no-any-return]

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
