"""The one clock of fastdos: timezone-aware local time, the way aiida-core stamps rows.

Kept in its own module so that rows, ingest and the importer do not import the migrator (and alembic with it)
just to read the time.
"""

from __future__ import annotations

from datetime import datetime


def now() -> datetime:
    """Timezone-aware local "now" (aiida-core's ``timezone.now()`` is ``datetime.now().astimezone()``)."""
    return datetime.now().astimezone()
