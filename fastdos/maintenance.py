"""Repository maintenance: unreferenced objects, maintain, backup and restore."""

from __future__ import annotations


class MaintenanceMixin:
    """Methods mixed into :class:`fastdos.backend.Backend`."""
