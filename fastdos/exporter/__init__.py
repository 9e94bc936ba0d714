"""AiiDA archive export (format ``main_0001``) at COPY speed: the counterpart of :mod:`fastdos.importer`.

``export_archive(storage, path, ...)`` selects what aiida-core's ``create_archive`` selects (the EXPORT
traversal rules evaluated in one recursive statement), streams the rows out of PostgreSQL by binary COPY into
the archive's SQLite database and the repository objects out of the container in pack order, and lays the
zip out as aiida-core's writer does. Modules: :mod:`.selection` (what), :mod:`.writer` (SQLite and zip),
:mod:`.deflate` (the database member, compressed by several threads), :mod:`.objects` (repository objects),
:mod:`.report` (report, progress, errors), :mod:`.command` (the ``fastdos export`` command).

The names load on first use, so that importing :mod:`.command` (which ``fastdos --help`` does) pulls in
neither psycopg nor disk-objectstore.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .export import export_archive
    from .report import ExportError, ExportProgress, ExportReport, ExportValidationError

__all__ = ["ExportError", "ExportProgress", "ExportReport", "ExportValidationError", "export_archive"]

_WHERE = {
    "export_archive": ".export",
    "ExportError": ".report",
    "ExportProgress": ".report",
    "ExportReport": ".report",
    "ExportValidationError": ".report",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
