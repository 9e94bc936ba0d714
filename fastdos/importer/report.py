"""What an import reports: per-stage counts and times, the import group, and the progress callback's shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

# The stages in the order they run (absent ones are skipped: no logs in the archive, no authinfos asked for).
STAGES = ("users", "computers", "authinfos", "nodes", "logs", "comments", "links", "groups", "import group",
          "constraints", "repository")  # fmt: skip


class ImportProgress(Protocol):
    """Progress callback: ``progress(stage, done, total)``.

    Called with ``done=0`` when a stage starts (``total`` known from the archive), after every batch, and
    with ``done == total`` when it ends. Stages come in the order of :data:`STAGES` (absent ones skipped).
    A click bar follows it by opening a bar when the stage changes and advancing it by the difference.
    Raising from the callback aborts the import: nothing is kept in the database.
    """

    def __call__(self, stage: str, done: int, total: int) -> None: ...


def no_progress(stage: str, done: int, total: int) -> None:
    """The progress callback of an import that reports none."""


@dataclass
class StageReport:
    """Counts and time of one stage."""

    new: int = 0
    existing: int = 0
    seconds: float = 0.0
    extra: str = ""

    @property
    def total(self) -> int:
        return self.new + self.existing


@dataclass
class ImportReport:
    """What an import did (or with ``dry_run`` would do)."""

    archive: str
    dry_run: bool = False
    stages: dict[str, StageReport] = field(default_factory=dict)
    import_group: tuple[int, str] | None = None  # (id, label); id is None-like (0) on a dry run
    objects_mode: str = ""  # "packed", "loose" or "" (nothing written)
    # What of the big tables was dropped and rebuilt once at the end: "", "foreign keys" (re-validated) or
    # "indexes and foreign keys".
    load_mode: str = ""
    seconds: float = 0.0

    def stage(self, name: str) -> StageReport:
        """The report of stage ``name`` (created on first use)."""
        return self.stages.setdefault(name, StageReport())

    def lines(self) -> list[str]:
        """A human summary: one line per entity (new/existing, rows/s), the import group, the total time."""
        head = f"{'[dry run] ' if self.dry_run else ''}Imported {self.archive} in {self.seconds:.2f} s"
        out = [head]
        for name, stage in self.stages.items():
            rate = stage.total / stage.seconds if stage.seconds > 0 else 0.0
            verb = "would add" if self.dry_run else "new"
            line = (
                f"  {name:<13} {stage.new:>9} {verb}, {stage.existing:>9} existing  {stage.seconds:7.2f} s"
                f" ({rate:,.0f} rows/s)"
            )
            out.append(line + (f"  {stage.extra}" if stage.extra else ""))
        if self.import_group is not None:
            where = "" if self.dry_run else f" (id {self.import_group[0]})"
            out.append(f"  import group: {self.import_group[1]!r}{where}")
        if self.dry_run:
            out.append("  dry run: the transaction was rolled back and no repository object was written")
        return out
