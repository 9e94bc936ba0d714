"""A worker thread whose error the main thread raises: the object copies of import and export.

Both move repository objects in a thread beside the database work (fastdos/importer/objects.py,
fastdos/exporter/objects.py; why, measured: bench/notes/import.md and bench/notes/export.md). The main thread
polls ``done`` for progress, may ``cancel()``, joins, and raises ``error`` itself, so that a failure surfaces
where the transaction and the report are.
"""

from __future__ import annotations

import threading
import time


class BackgroundWork(threading.Thread):
    """Runs :meth:`work` once; keeps its exception in ``error`` and its duration in ``seconds``."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.done = 0
        self.seconds = 0.0
        self.error: BaseException | None = None
        self._stop_event = threading.Event()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called: :meth:`work` stops at its next check."""
        return self._stop_event.is_set()

    def cancel(self) -> None:
        """Ask the work to stop at its next check."""
        self._stop_event.set()

    def run(self) -> None:
        started = time.perf_counter()
        try:
            self.work()
        except BaseException as exc:  # handed to the main thread, which raises it
            self.error = exc
        finally:
            self.seconds = time.perf_counter() - started

    def work(self) -> None:
        """The thread's job (subclasses)."""
        raise NotImplementedError
