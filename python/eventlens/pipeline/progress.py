"""Progress of a run that means something at scale: files done / total, events/s, ETA.

Every executor leaves the same trace of its progress: one result file per
finished chunk in ``OUT.incomplete/chunks/`` (:mod:`.execute`), whoever ran
it — this process, a futures or Dask worker, an HTCondor Dask worker or an
HTCondor batch job on another machine.  :func:`watch` starts a thread in the
driver that lists that folder every few seconds and logs, through
:mod:`logging` at a fixed interval (30 s by default)::

    412/1000 files, 82400/200000 events (41 %), 1520 events/s, ETA 1 min 17 s

A file counts as done when all its chunks are.  The rate is measured over
the chunks finished since the watch began (chunks of an interrupted run that
``--resume`` keeps count as done, not as speed).  Listing a folder of
10,000 names takes milliseconds, so the watch costs nothing measurable, and
nothing is read from the result files.  coffea's own progress bars (local
executors) show chunks; this shows what a physicist plans by.  ``status=False``
(``--quiet``) turns both off.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import chunks as chunklib

log = logging.getLogger(__name__)

RESULT_SUFFIX = ".json.gz"
INTERVAL = 30.0  # seconds between two log lines


@dataclass(frozen=True)
class Snapshot:
    """Where a run stands."""

    files_done: int
    files: int
    events_done: int
    events: int
    seconds: float  # since the watch began
    new_events: int  # events of the chunks finished since the watch began

    @property
    def rate(self) -> float | None:
        """Events per second since the watch began (None before any chunk finished)."""
        return self.new_events / self.seconds if self.new_events and self.seconds > 0 else None

    @property
    def eta(self) -> float | None:
        rate = self.rate
        return None if rate is None else (self.events - self.events_done) / rate

    def line(self) -> str:
        pct = 100.0 * self.events_done / self.events if self.events else 100.0
        text = (
            f"{self.files_done}/{self.files} files, {self.events_done}/{self.events} events "
            f"({pct:.0f} %)"
        )
        rate, eta = self.rate, self.eta
        if rate is None:
            return f"{text}, waiting for the first chunk ({duration(self.seconds)} so far)"
        return f"{text}, {rate:.0f} events/s, ETA {duration(eta or 0.0)}"


class ChunkWatch:
    """Counts the finished chunks of ``items`` in ``chunks_dir`` (see the module docstring)."""

    def __init__(self, chunks_dir: str | Path, items: Sequence[Any]) -> None:
        self.chunks_dir = Path(chunks_dir)
        self._chunks: dict[str, tuple[tuple[str, str], int]] = {}
        self._left: dict[tuple[str, str], int] = {}  # file -> chunks not done yet
        for item in items:
            n = int(item.entrystop) - int(item.entrystart)
            key = (item.dataset, item.filename)
            self._chunks[chunklib.name_of(item)] = (key, n)
            self._left[key] = self._left.get(key, 0) + 1
        self.files = len(self._left)
        self.events = sum(n for _, n in self._chunks.values())
        self._done: set[str] = set()
        self.files_done = 0
        self.events_done = 0
        self._t0 = time.monotonic()
        self._events_at_start = 0
        self.poll()
        self._events_at_start = self.events_done

    def poll(self) -> Snapshot:
        """List the folder once and count what finished since the last poll."""
        try:
            with os.scandir(self.chunks_dir) as entries:
                names = [e.name for e in entries if e.name.endswith(RESULT_SUFFIX)]
        except OSError:  # not there yet, or already removed by the finish step
            names = []
        for file_name in names:
            name = file_name[: -len(RESULT_SUFFIX)]
            if name in self._done or name not in self._chunks:
                continue
            self._done.add(name)
            key, n = self._chunks[name]
            self.events_done += n
            self._left[key] -= 1
            if self._left[key] == 0:
                self.files_done += 1
        return self.snapshot()

    def snapshot(self) -> Snapshot:
        return Snapshot(
            self.files_done,
            self.files,
            self.events_done,
            self.events,
            time.monotonic() - self._t0,
            self.events_done - self._events_at_start,
        )


@contextlib.contextmanager
def watch(
    chunks_dir: str | Path,
    items: Sequence[Any],
    *,
    enabled: bool = True,
    interval: float = INTERVAL,
    logger: logging.Logger = log,
) -> Iterator[ChunkWatch | None]:
    """Log the run's progress every ``interval`` seconds while the block runs, and a last
    line at its end; nothing when ``enabled`` is False or there is nothing to do."""
    if not enabled or not items:
        yield None
        return
    counter = ChunkWatch(chunks_dir, items)
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                logger.info("%s", counter.poll().line())
            except Exception as exc:  # a progress line must never break a run
                logger.debug("progress: %s", exc)

    thread = threading.Thread(target=loop, name="eventlens-progress", daemon=True)
    thread.start()
    ok = False
    try:
        yield counter
        ok = True
    finally:
        stop.set()
        thread.join()
        if ok:
            snap = counter.poll()
            rate = snap.rate
            logger.info(
                "processed %d/%d files, %d events in %s%s",
                snap.files_done,
                snap.files,
                snap.events_done,
                duration(snap.seconds),
                f" ({rate:.0f} events/s)" if rate else "",
            )


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``: what a person reads at a glance."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
