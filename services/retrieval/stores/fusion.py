"""Relative score fusion: Weaviate's default way of merging vector and keyword results.

Each result list's scores are rescaled to [0, 1] (best 1, worst 0), then each candidate's
fused score is `alpha * vector + (1 - alpha) * keyword`, a missing side counting 0.
"""

from __future__ import annotations

from collections.abc import Mapping


def relative_score_fusion(
    vector: Mapping[int, float], keyword: Mapping[int, float], alpha: float
) -> dict[int, float]:
    """Fused scores by candidate id, from each side's raw scores by candidate id.

    >>> relative_score_fusion({1: 0.9, 2: 0.5}, {2: 7.0, 3: 1.0}, alpha=0.5)
    {1: 0.5, 2: 0.5, 3: 0.0}
    """
    fused = dict.fromkeys([*vector, *keyword], 0.0)
    for weight, scores in ((alpha, vector), (1 - alpha, keyword)):
        for candidate, share in _rescaled(scores).items():
            fused[candidate] += weight * share
    return fused


def _rescaled(scores: Mapping[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high == low:
        return dict.fromkeys(scores, 1.0)
    return {candidate: (score - low) / (high - low) for candidate, score in scores.items()}
