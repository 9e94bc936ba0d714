"""AiiDA archive export (format ``main_0001``) at COPY speed: the counterpart of :mod:`fastdos.importer`.

``export_archive(storage, path, ...)`` selects what aiida-core's ``create_archive`` selects (the EXPORT
traversal rules evaluated in one recursive statement), streams the rows out of PostgreSQL by binary COPY into
the archive's SQLite database and the repository objects out of the container in pack order, and lays the
zip out as aiida-core's writer does. Modules: :mod:`.selection` (what), :mod:`.writer` (SQLite and zip),
:mod:`.objects` (repository objects), :mod:`.report` (report, progress, errors), :mod:`.command` (CLI).
"""

from __future__ import annotations

from .export import export_archive
from .report import ExportError, ExportProgress, ExportReport, ExportValidationError

__all__ = ["ExportError", "ExportProgress", "ExportReport", "ExportValidationError", "export_archive"]
