"""The results file, `docs/results.md`: each benchmark that is run whole writes what it printed
into its own section, with the command, the commit measured, the date and the machine's load,
so that the figures the README and the code rely on are read where they were measured.

    @records("startup", "Start-up and the garbage collector")
    def main() -> None:
        ...  # everything printed here also goes into the section

A section is replaced, never appended to; the others are left as they are. `--no-record`
(or DIAMONDS_BENCH_NO_RECORD=1) prints only.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "results.md"
HEADER = """# Measured figures

Written by the benchmarks in `benchmarks/`, each into its own section when run whole (the
section says the command, the commit and the machine's load while it ran); never edited by
hand. The machine these were measured on is a shared 2-core one whose speed drifts within
minutes: compare figures of one run, not across sections.
"""


class _Tee(io.TextIOBase):
    def __init__(self, *streams: io.TextIOBase) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def enabled(argv: list[str]) -> bool:
    """Whether this run records: not with --no-record (removed from argv) or the variable."""
    if "--no-record" in argv:
        argv.remove("--no-record")
        return False
    return os.environ.get("DIAMONDS_BENCH_NO_RECORD", "") in ("", "0")


@contextlib.contextmanager
def recorded(name: str, title: str, record: bool = True) -> Iterator[None]:
    """Tee stdout; if the block ends without an exception and `record`, write the section."""
    captured = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, captured)):
        yield
    if record:
        write_section(name, title, captured.getvalue())
        print(f"recorded in {RESULTS.relative_to(REPO)}#{name}")


def records(name: str, title: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """A benchmark's `main`, recording what it prints unless told not to."""

    def decorate(main: Callable[[], None]) -> Callable[[], None]:
        @functools.wraps(main)
        def run() -> None:
            with recorded(name, title, enabled(sys.argv)):
                main()

        return run

    return decorate


def write_section(name: str, title: str, output: str, path: Path = RESULTS) -> None:
    command = " ".join(["python", *(_relative(arg) for arg in sys.argv)])
    one, five, _ = os.getloadavg()
    section = (
        f"<!-- {name} -->\n## {title}\n\n"
        f"`{command}` at commit {_commit()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"load average {one:.1f}/{five:.1f} on {os.cpu_count()} cores when it ended.\n\n"
        f"```\n{output.strip()}\n```\n<!-- /{name} -->\n"
    )
    text = path.read_text() if path.exists() else HEADER
    pattern = re.compile(rf"<!-- {re.escape(name)} -->\n.*?<!-- /{re.escape(name)} -->\n", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def _relative(arg: str) -> str:
    """A path argument as the repository names it (or its bare name outside it)."""
    if not os.path.exists(arg):
        return arg
    with contextlib.suppress(ValueError):
        return str(Path(arg).resolve().relative_to(REPO))
    return Path(arg).name


def _commit() -> str:
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True
    )
    return described.stdout.strip() or "unknown"
