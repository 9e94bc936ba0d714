"""Bulk ingest (COPY) and bulk update: bulk_insert, bulk_insert_iter, bulk_update, group membership."""

from __future__ import annotations


class IngestMixin:
    """Methods mixed into :class:`fastdos.backend.Backend`."""
