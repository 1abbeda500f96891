"""Per-process CPU from /proc for the pipeline benchmark: parsing, the process tree, windows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks import cpu
from benchmarks.cpu import (
    cpu_used,
    descendant_pids,
    parent_pid,
    parse_cpu_ticks,
    process_cpu_s,
    read_groups,
)


def _stat_line(pid: int, name: str, ppid: int, utime: int, stime: int) -> str:
    # Fields 3.. of proc_pid_stat(5): state, ppid, pgrp, session, tty, tpgid, flags, minflt,
    # cminflt, majflt, cmajflt, utime, stime, cutime, cstime, then the rest.
    rest = f"S {ppid} {pid} {pid} 0 -1 4194560 812 0 3 0 {utime} {stime} 99 98 20 0 4 0"
    return f"{pid} ({name}) {rest} 2231 41943040 2048\n"


def test_cpu_ticks_are_user_plus_system_time() -> None:
    assert parse_cpu_ticks(_stat_line(42, "python3", 1, utime=150, stime=30)) == 180


def test_childrens_time_is_not_counted_as_the_process_own() -> None:
    line = _stat_line(42, "python3", 1, utime=5, stime=1)
    assert parse_cpu_ticks(line) == 6, "cutime/cstime (99, 98) leaked into the process's CPU"


def test_a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() -> None:
    line = _stat_line(43, "kafka (broker) x", 7, utime=11, stime=2)
    assert parse_cpu_ticks(line) == 13, "fields were counted from a ')' inside the name"
    assert parent_pid(line) == 7, "the parent pid was read from inside the name"


def test_parent_pid_is_field_four() -> None:
    assert parent_pid(_stat_line(44, "java", 1234, utime=0, stime=0)) == 1234


def test_descendants_are_children_and_their_children_not_siblings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = {10: 1, 11: 10, 12: 11, 13: 10, 20: 1}  # pid: parent
    for pid, parent in tree.items():
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(_stat_line(pid, "p", parent, 0, 0))
    (tmp_path / "self").mkdir()  # /proc has entries that are no processes
    monkeypatch.setattr(cpu, "PROC", tmp_path)
    assert sorted(descendant_pids(10)) == [11, 12, 13]


def test_a_process_that_is_gone_has_spent_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cpu, "PROC", tmp_path)
    assert process_cpu_s(999_999) == 0.0


def test_a_window_is_what_each_group_spent_between_two_readings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    monkeypatch.setattr(cpu, "PROC", tmp_path)

    def at(ticks: dict[int, int]) -> dict[str, float]:
        for pid, used in ticks.items():
            (tmp_path / str(pid)).mkdir(exist_ok=True)
            (tmp_path / str(pid) / "stat").write_text(_stat_line(pid, "p", 1, used, 0))
        return read_groups({"bench": [10], "services": [11, 12]})

    before = at({10: 100, 11: 0, 12: 50})
    after = at({10: 100 + ticks_per_s, 11: ticks_per_s // 2, 12: 50 + ticks_per_s // 2})
    assert cpu_used(before, after) == pytest.approx({"bench": 1.0, "services": 1.0})


def test_readings_of_different_groups_are_refused() -> None:
    with pytest.raises(ValueError, match="different groups"):
        cpu_used({"bench": 1.0}, {"bench": 2.0, "services": 0.5})


def test_this_process_has_spent_cpu_by_the_real_proc() -> None:
    assert process_cpu_s(os.getpid()) > 0.0, "no CPU read from /proc for a running interpreter"
