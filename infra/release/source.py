"""The functions' source archive of a release: a zip of one git commit, never of a working tree.

    python3 infra/release/source.py REVISION ARCHIVE.zip      (prints the commit it archived)

Its root holds what the functions' image is built from (the Dockerfile beside this file):

    main.py            functions/main.py (the functions-framework targets)
    requirements.txt   functions/requirements.txt (exported from uv.lock, with hashes)
    Dockerfile         infra/release/Dockerfile
    functions/         the deployed package and its data files (web page, migrations)
    training/          the package the functions import (record schema, model loading)

Only files of those two packages with a deployed suffix are taken, less NOT_DEPLOYED; nothing
else of the repository is (the local stack, tests, infra). The same commit always gives the
same bytes: entries are sorted and carry a fixed time and mode.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("functions", "training")
SUFFIXES = {".py", ".json", ".html", ".ini", ".mako", ".js", ".css", ".svg"}
NOT_DEPLOYED = {"training/comparison.py"}
"""Imported by no function (the notebook's and the accuracy benchmark's model comparison)."""
AT_ROOT = {
    "main.py": "functions/main.py",
    "requirements.txt": "functions/requirements.txt",
    "Dockerfile": "infra/release/Dockerfile",
}
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def commit_of(revision: str, repo: Path = REPO) -> str:
    """The full id of the commit `revision` names (a branch, a tag, a short id)."""
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", f"{revision}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def deployed(path: str) -> bool:
    package = path.split("/", 1)[0]
    return (
        package in PACKAGES
        and PurePosixPath(path).suffix in SUFFIXES
        and path not in NOT_DEPLOYED
        and "__pycache__" not in path.split("/")
    )


def files_of(commit: str, repo: Path = REPO) -> dict[str, bytes]:
    """Archive name => content, read from the commit's tree with `git archive`."""
    paths = [*PACKAGES, *AT_ROOT.values()]
    command = ["git", "-C", str(repo), "archive", "--format=tar", commit, "--", *paths]
    tar = subprocess.run(command, capture_output=True, check=True).stdout
    tree: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        for member in archive.getmembers():
            if member.isfile():
                tree[member.name] = archive.extractfile(member).read()
    files = {path: content for path, content in tree.items() if deployed(path)}
    files.update({name: tree[source] for name, source in AT_ROOT.items()})
    return files


def build(revision: str, repo: Path = REPO) -> tuple[str, bytes]:
    """The commit `revision` names, and its source archive."""
    commit = commit_of(revision, repo)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files_of(commit, repo).items()):
            entry = zipfile.ZipInfo(name, FIXED_TIME)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, content)
    return commit, buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", help="a commit, branch or tag")
    parser.add_argument("archive", type=Path, help="the zip file to write")
    args = parser.parse_args(argv)
    try:
        commit, data = build(args.revision)
    except subprocess.CalledProcessError as error:
        reason = error.stderr if isinstance(error.stderr, str) else error.stderr.decode()
        print(f"source.py: {args.revision}: {reason.strip()}", file=sys.stderr)
        return 2
    args.archive.write_bytes(data)
    print(commit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
