"""What a sentence embedder offers its users, whatever computes the vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Unit-length float32 vectors, one row per text, in order."""

    @property
    def dimension(self) -> int: ...

    @property
    def identity(self) -> str:
        """Names the model and settings: equal identities give equal vectors."""
        ...

    def warm_up(self) -> None: ...

    def embed(self, texts: Sequence[str]) -> F32: ...
