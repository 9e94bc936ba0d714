"""Provenance graph operations: deletion with AiiDA's traversal rules, ancestors/descendants, closure tables, integrity."""

from __future__ import annotations


class GraphMixin:
    """Methods mixed into :class:`fastdos.backend.Backend`."""
