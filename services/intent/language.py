"""Is a message in the language the intent step's embedder reads? (py3langid, the
maintained langid.py, whose model ships in its wheel.)"""

from __future__ import annotations

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from services.intent.catalog import LanguageSpec


class LanguageCheck:
    """Example: `LanguageCheck(LanguageSpec()).refusal("Wo ist meine Bestellung?")` says it
    is German; an English message gets ""."""

    def __init__(self, spec: LanguageSpec) -> None:
        self._spec = spec
        self._identifier: LanguageIdentifier | None = None

    def warm_up(self) -> None:
        """Load the identifier's model, once."""
        self._loaded()

    def _loaded(self) -> LanguageIdentifier:
        if self._identifier is None:
            self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return self._identifier

    def refusal(self, text: str) -> str:
        """Why `text` is not for the classifier, or "" (also for text too short to tell)."""
        if len(text.split()) < self._spec.min_words:
            return ""
        language, probability = self._loaded().classify(text)
        if language != self._spec.expected and probability >= self._spec.min_probability:
            return (
                f"the message looks like language {language!r} ({probability:.2f}); the "
                f"classifier reads {self._spec.expected!r} only"
            )
        return ""
