"""Ids in free text: prefixed record ids (`INV-1001`, `ORD-5001`, `PAY-77`, `TCK-123`,
`PAY-3F9A2C1B5D7E`) and tracking-number shapes (a run of at least 10 letters and digits
with at least 6 digits: `1Z999AA10123456784`, `JD014600006281230`). Values are upper case.
Vault tokens (`[EMAIL#3f9a2c1b5d7e]`) stand for personal data, not ids, and are skipped.

>>> [m.value for m in find_ids("ord-5001 ships as 1Z999AA10123456784")]
['ORD-5001', '1Z999AA10123456784']
>>> is_id("JD014600006281230"), is_id("UPS")
(True, False)
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from shared.grounding.kinds import Mention
from shared.pii.tokens import TOKEN_PATTERN

_TRACKING_DIGITS = 6
# A prefix of letters, a hyphen, then letters and digits with at least one digit.
_PREFIXED = r"[A-Za-z]{2,5}-(?=[A-Za-z]*\d)[A-Za-z0-9]{2,}"
_TRACKING = rf"(?=(?:[A-Za-z]*\d){{{_TRACKING_DIGITS}}})[A-Za-z0-9]{{10,}}"
_ID = re.compile(rf"(?<![\w-])(?:{_PREFIXED}|{_TRACKING})(?![\w-])")


def find_ids(text: str) -> Iterator[Mention]:
    """The ids written in `text`, in order of appearance."""
    tokens = [match.span() for match in TOKEN_PATTERN.finditer(text)]
    for match in _ID.finditer(text):
        if not any(start <= match.start() < end for start, end in tokens):
            yield Mention("id", match.group(), match.group().upper(), match.start(), match.end())


def is_id(value: str) -> bool:
    """Whether the whole of `value` has the shape of an id."""
    return _ID.fullmatch(value.strip()) is not None
