"""Okapi BM25 over a fixed set of texts, the keyword half of the embedded hybrid search.

Parameters and tokenisation follow Weaviate's defaults (k1 = 1.2, b = 0.75, lower-cased
words, its "en" stopword preset), so both stores rank keywords alike.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

K1 = 1.2
B = 0.75
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Weaviate's "en" preset (adapters/repos/db/inverted/stopwords/presets.go), Lucene's list.
# fmt: off
STOPWORDS = frozenset([
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
    "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
    "these", "they", "this", "to", "was", "will", "with",
])
# fmt: on


def tokenize(text: str) -> list[str]:
    return [word for word in _WORD.findall(text.lower()) if word not in STOPWORDS]


class Bm25:
    """Scores every text against a query at once; immutable once built.

    >>> index = Bm25(["refunds within 60 days", "shipping takes a week"])
    >>> [round(float(s), 3) for s in index.scores("60 days")]
    [1.31, 0.0]
    """

    def __init__(self, texts: Sequence[str]) -> None:
        self._count = len(texts)
        lengths = np.zeros(len(texts), dtype=np.float32)
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for row, text in enumerate(texts):
            terms = Counter(tokenize(text))
            lengths[row] = sum(terms.values())
            for term, frequency in terms.items():
                rows, frequencies = postings.setdefault(term, ([], []))
                rows.append(row)
                frequencies.append(frequency)
        average = float(lengths.mean()) if len(texts) else 0.0
        norms = K1 * (1 - B + B * lengths / max(average, 1.0))
        self._postings = {
            term: (np.array(rows, dtype=np.int64), np.array(freqs, dtype=np.float32))
            for term, (rows, freqs) in postings.items()
        }
        self._norms = norms.astype(np.float32)

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """One score per text, in order; 0 where no query term occurs."""
        scores = np.zeros(self._count, dtype=np.float32)
        for term in set(tokenize(query)):
            posting = self._postings.get(term)
            if posting is None:
                continue
            rows, frequencies = posting
            idf = math.log(1 + (self._count - len(rows) + 0.5) / (len(rows) + 0.5))
            scores[rows] += (
                np.float32(idf) * frequencies * (K1 + 1) / (frequencies + self._norms[rows])
            )
        return scores
