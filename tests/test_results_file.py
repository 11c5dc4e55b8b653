"""The results file the benchmarks write: a section is replaced, the others are kept, and every
section names a benchmark that exists."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import results  # noqa: E402


def test_a_section_is_replaced_and_the_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "results.md"
    results.write_section("one", "One", "first figures", path)
    results.write_section("two", "Two", "other figures", path)
    results.write_section("one", "One", "new figures", path)
    text = path.read_text()
    assert text.startswith(results.HEADER)
    assert "new figures" in text and "first figures" not in text and "other figures" in text
    assert text.index("## One") < text.index("## Two")


def test_a_run_that_fails_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results, "RESULTS", tmp_path / "results.md")
    with pytest.raises(RuntimeError), results.recorded("one", "One"):
        print("half the figures")
        raise RuntimeError("the benchmark broke")
    assert not (tmp_path / "results.md").exists()


def test_no_record_is_taken_out_of_the_arguments() -> None:
    argv = ["startup.py", "--no-record", "--repeats", "3"]
    assert not results.enabled(argv)
    assert argv == ["startup.py", "--repeats", "3"]


def test_every_section_names_a_benchmark_of_the_repository() -> None:
    text = results.RESULTS.read_text()
    commands = re.findall(r"^`python (benchmarks/\S+\.py)", text, re.M)
    assert commands
    for command in commands:
        assert (BENCHMARKS.parent / command).is_file(), command
