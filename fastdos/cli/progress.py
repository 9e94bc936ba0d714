"""Progress of long commands: click bars on a terminal, one line per stage (counts and rate) otherwise.

A bar redrawn with carriage returns is noise in a log file or a CI job, and click shows only the label
there; without a terminal each stage therefore prints one line when it ends:
``nodes: 100,000 in 3.21 s (31,200/s)``.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import click

from .base import figure

MIN_RATE_SECONDS = 0.05


def _interactive(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stdout
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class StageLines:
    """The stages of one command as lines: ``<stage>: <done> in <seconds> s (<rate>/s)`` when each ends."""

    def __init__(self) -> None:
        self._stage: str | None = None
        self._done = 0
        # The first report of a stage comes after its first batch: a stage is timed from the end of the one
        # before (or from the start of the command), so that batch is in its rate.
        self._started = time.perf_counter()

    def start(self, stage: str) -> None:
        """Begin ``stage`` (ends the one before)."""
        self.close()
        self._stage, self._done = stage, 0

    def update(self, done: int) -> None:
        """Cumulative count of the current stage."""
        self._done = done

    def close(self) -> None:
        """Print the line of the current stage, if any."""
        if self._stage is None:
            return
        seconds = time.perf_counter() - self._started
        # A stage reported once, at its end, has no measured duration worth a rate.
        rate = f" ({figure(self._done / seconds)}/s)" if seconds >= MIN_RATE_SECONDS and self._done else ""
        click.echo(f"{self._stage}: {figure(self._done)} in {figure(seconds)} s{rate}")
        self._stage, self._started = None, time.perf_counter()


class PhaseBars:
    """One progress display per stage, fed by ``progress(stage, done, total)`` with cumulative ``done``."""

    def __init__(self, interactive: bool | None = None) -> None:
        self._interactive = _interactive() if interactive is None else interactive
        self._phase: str | None = None
        self._bar: Any = None
        self._lines = StageLines()
        self._done = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._phase:
            self.close()
            self._phase, self._done = stage, 0
            if self._interactive:
                self._bar = click.progressbar(
                    length=max(total, 1), label=f"{stage:>12}", show_eta=True, show_pos=True
                )
                self._bar.__enter__()
            else:
                self._lines.start(stage)
        if self._bar is not None:
            self._bar.update(done - self._done)
        else:
            self._lines.update(done)
        self._done = done

    def close(self) -> None:
        """Finish the current stage."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
        self._lines.close()
        self._phase = None


class CallbackBars:
    """Progress driven by disk-objectstore's ``callback(action, value)`` protocol (init/update/close)."""

    def __init__(self, interactive: bool | None = None) -> None:
        self._interactive = _interactive() if interactive is None else interactive
        self._bar: Any = None
        self._lines = StageLines()
        self._done = 0

    def __call__(self, action: str, value: Any) -> None:
        if action == "init":
            self.close()
            description = str(value.get("description", "")).strip() or "working"
            if self._interactive:
                self._bar = click.progressbar(length=max(int(value["total"]), 1), label=description)
                self._bar.__enter__()
            else:
                self._done = 0
                self._lines.start(description)
        elif action == "update":
            if self._bar is not None:
                self._bar.update(int(value))
            else:
                self._done += int(value)
                self._lines.update(self._done)
        elif action == "close":
            self.close()

    def close(self) -> None:
        """Finish the current bar."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
        self._lines.close()
