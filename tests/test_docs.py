"""The references in the code lead somewhere: cited ``docs/`` files and headings exist, nothing cites a
document that is not in the repository (docs/house-style.md#comments).

Anchors are GitHub's heading slugs: lower case, punctuation other than ``-`` and ``_`` removed, spaces turned
into ``-``, ``-1``, ``-2`` ... appended to repeated headings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# The trees whose comments must cite only what is in the repository, and single files at the top.
TREES = ("fastdos", "sql", "migrations", "tests", "bench", "docs")
FILES = ("README.md", "Makefile", "pyproject.toml")
TEXT_SUFFIXES = {".py", ".sql", ".md", ".mako", ".toml", ".cfg", ".ini", ".txt", ".sh", ".json", ""}
SKIPPED_DIRS = {"__pycache__", ".venv", ".venv-aiida", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
SELF = Path(__file__).resolve()

DOC_CITATION = re.compile(r"(?<![\w/.])docs/([A-Za-z0-9_/-]+\.md)(?:#([A-Za-z0-9_-]+))?")
NOTE_CITATION = re.compile(r"(?<![\w/.])bench/notes/([A-Za-z0-9_-]+\.md)")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# Citations of the design documents that stay outside the repository.
FOREIGN = [
    re.compile(r"spec\s*§"),
    re.compile(r"\bspec\s+\d+(?:\.\d+)*\b"),
    re.compile(r"house[ -]style rule", re.IGNORECASE),
    re.compile(r"\b(?:psql_dos|user_needs|embedded_postgres)\.md\b"),
    re.compile(r"\bpsql_dos spec\b|\bspec user_needs\b|\bshared spec\b|shared/spec/"),
    re.compile(r"\bARCHITECTURE\.md\b"),
]


def text_files() -> Iterator[Path]:
    """Every text file of the checked trees (binary archives and caches skipped)."""
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*")):
            if any(part in SKIPPED_DIRS for part in path.relative_to(ROOT).parts):
                continue
            if tree == "docs" and path.suffix != ".md":
                continue  # in docs/ only the pages are checked
            if path.is_file() and path.suffix in TEXT_SUFFIXES and path.resolve() != SELF:
                yield path
    for name in FILES:
        if (ROOT / name).is_file():
            yield ROOT / name


@cache
def read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def slug(heading: str) -> str:
    """GitHub's anchor of a markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@cache
def anchors(doc: Path) -> frozenset[str]:
    """The anchors of every heading of ``doc`` (fenced code blocks skipped)."""
    repeats: dict[str, int] = {}
    found: set[str] = set()
    fenced = False
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match is None:
            continue
        base = slug(match.group(2))
        count = repeats.get(base, 0)
        repeats[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def citations() -> list[tuple[str, str, str | None]]:
    """(where, cited docs file, anchor or None) for every ``docs/...md`` citation in the checked files."""
    found = []
    for path in text_files():
        text = read(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for match in DOC_CITATION.finditer(line):
                found.append((f"{path.relative_to(ROOT)}:{number}", match.group(1), match.group(2)))
    return found


def test_slug_follows_github() -> None:
    assert slug("Foreign keys") == "foreign-keys"
    assert slug("delete_nodes_and_connections") == "delete_nodes_and_connections"
    assert slug("History: db_dbpath") == "history-db_dbpath"
    assert slug("`bulk_insert` and metadata.json") == "bulk_insert-and-metadatajson"


def test_anchors_number_repeated_headings(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text("# Title\n## Notes\n```\n# not a heading\n```\n## Notes\n", encoding="utf-8")
    assert anchors(doc) == {"title", "notes", "notes-1"}


def test_the_docs_exist_and_are_indexed() -> None:
    docs = {p.name for p in DOCS.glob("*.md")}
    assert {"README.md", "schema.md", "storage-backend.md", "traversal-rules.md", "archive-format.md",
            "repository.md", "house-style.md"} <= docs  # fmt: skip
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    unlisted = sorted(name for name in docs - {"README.md"} if f"({name})" not in index)
    assert not unlisted, f"docs/README.md does not list {unlisted}"


def test_code_cites_docs() -> None:
    # Guards the scan itself: the schema and the traversal rules are cited from sql/ and tests/.
    cited = {doc for _, doc, _ in citations()}
    assert {"schema.md", "traversal-rules.md"} <= cited, cited


def test_cited_docs_and_anchors_exist() -> None:
    broken = []
    for where, doc, anchor in citations():
        target = DOCS / doc
        if not target.is_file():
            broken.append(f"{where}: docs/{doc} does not exist")
        elif anchor is not None and anchor not in anchors(target):
            broken.append(f"{where}: docs/{doc} has no heading for #{anchor}")
    assert not broken, "\n".join(broken)


def test_cited_bench_notes_exist() -> None:
    broken = []
    for path in text_files():
        text = read(path) or ""
        for number, line in enumerate(text.splitlines(), 1):
            for match in NOTE_CITATION.finditer(line):
                if not (ROOT / "bench" / "notes" / match.group(1)).is_file():
                    broken.append(f"{path.relative_to(ROOT)}:{number}: bench/notes/{match.group(1)} does not exist")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("doc", sorted(p.name for p in DOCS.glob("*.md")))
def test_links_between_docs_resolve(doc: str) -> None:
    broken = []
    for target in MARKDOWN_LINK.findall((DOCS / doc).read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+://", target):
            continue
        name, _, anchor = target.partition("#")
        path = DOCS / (name or doc)
        if not path.is_file():
            broken.append(f"{target}: no such file in docs/")
        elif anchor and anchor not in anchors(path):
            broken.append(f"{target}: {path.name} has no heading for #{anchor}")
    assert not broken, f"docs/{doc}: " + "; ".join(broken)


def test_nothing_cites_documents_outside_the_repository() -> None:
    offending = []
    for path in text_files():
        text = read(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if any(pattern.search(line) for pattern in FOREIGN):
                offending.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offending, (
        "cite docs/<file>.md#<anchor> (or state the fact) instead of documents outside the repository:\n"
        + "\n".join(offending)
    )
