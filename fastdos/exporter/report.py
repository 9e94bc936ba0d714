"""What an export did: entities per type, the archive's size, the time of every stage; and its errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..errors import FastdosError

# The entity types in the order aiida-core's writer streams them (users first: everything refers to them).
ENTITIES: tuple[str, ...] = (
    "users",
    "computers",
    "authinfos",
    "groups",
    "nodes",
    "comments",
    "logs",
    "group_nodes",
    "links",
)


class ExportError(FastdosError):
    """The export cannot be made (bad selection, destination, missing object, disk full); nothing is left behind.

    aiida-core's counterpart is ``aiida.tools.archive.exceptions.ArchiveExportError``.
    """


class ExportValidationError(ExportError):
    """The selection breaks a rule of the export (aiida's ``ExportValidationError``: unsealed process nodes)."""


class ExportProgress(Protocol):
    """Progress callback: ``progress(stage, done, total)``, the importer's protocol.

    Called with ``done=0`` when a stage starts, after every batch, and with ``done == total`` when it ends.
    Stages: ``selection``, then one per entity type of :data:`ENTITIES` that has rows, ``files``, ``archive``.
    ``files`` runs in a second thread beside the entity stages, so its calls interleave with theirs.
    Raising from the callback aborts the export: no file is left.
    """

    def __call__(self, stage: str, done: int, total: int) -> None: ...


@dataclass
class ExportReport:
    """What an export wrote (or, with ``dry_run``, would write)."""

    path: Path
    dry_run: bool = False
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENTITIES, 0))
    files: int = 0
    size: int = 0  # bytes of the archive (0 on a dry run)
    seconds: dict[str, float] = field(default_factory=dict)  # per stage
    total_seconds: float = 0.0
    traversal_rules: dict[str, bool] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """A human summary: one line per entity type, the repository files, the size and the time."""
        verb = "Would export" if self.dry_run else "Exported"
        out = [f"{verb} to {self.path} in {self.total_seconds:.2f} s"]
        out += [f"  {name:<12} {count:>10}" for name, count in self.counts.items() if count]
        out.append(f"  {'files':<12} {self.files:>10}")
        if not self.dry_run:
            out.append(f"  {'size':<12} {self.size / 1024**2:>10.2f} MB")
        stages = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.seconds.items())
        if stages:
            out.append(f"  stages: {stages}")
        return out
