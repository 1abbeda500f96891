"""CPU time (user + system) of the processes a benchmark runs, read from /proc.

A window is two readings of the same process groups; the difference is the CPU each group
spent inside it. Children's CPU is not in a process's own counters (it is added to the
parent only when a child is reaped), so every process is read by its own pid.

Example::

    before = read_groups({"bench": [os.getpid()], "services": service_pids})
    ...  # the measured requests
    used_s = cpu_used(before, read_groups({"bench": [os.getpid()], "services": service_pids}))
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

PROC = Path("/proc")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse_cpu_ticks(stat_line: str) -> int:
    """utime + stime, in clock ticks, of one `/proc/<pid>/stat` line.

    The command name (field 2) is in parentheses and may hold spaces or parentheses of its
    own, so the fields are counted from the last `)`.
    """
    after_name = stat_line[stat_line.rindex(")") + 2 :].split()
    # after_name[0] is field 3 (state); utime and stime are fields 14 and 15.
    return int(after_name[11]) + int(after_name[12])


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far; 0.0 for a process that is gone."""
    try:
        line = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return parse_cpu_ticks(line) / _CLOCK_TICKS


def parent_pid(stat_line: str) -> int:
    return int(stat_line[stat_line.rindex(")") + 2 :].split()[1])


def descendant_pids(root: int) -> list[int]:
    """Every live process below `root` (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            line = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        children.setdefault(parent_pid(line), []).append(int(entry.name))
    found: list[int] = []
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def read_groups(groups: Mapping[str, Sequence[int]]) -> dict[str, float]:
    """CPU seconds so far of each named group of processes."""
    return {name: sum(process_cpu_s(pid) for pid in pids) for name, pids in groups.items()}


def cpu_used(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds each group spent between two readings of the same groups."""
    if before.keys() != after.keys():
        raise ValueError(f"readings of different groups: {sorted(before)} vs {sorted(after)}")
    return {name: after[name] - before[name] for name in before}
