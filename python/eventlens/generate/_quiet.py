"""Keep C++ libraries (Pythia, FastJet) from writing on our stdout.

Pythia prints banners, statistics and error lines with ``std::cout``; FastJet
prints its banner on the first clustering.  Neither can be silenced from
Python, so the file descriptor 1 is pointed at a temporary file while they
run, and what they wrote is handed back so the caller can log it (at DEBUG,
visible with ``-v``) or put it into an error message.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

log = logging.getLogger(__name__)


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None)


def _flush_c_stdout() -> None:
    # C++ iostreams are synchronised with C stdio by default, so fflush(NULL)
    # pushes out whatever Pythia/FastJet buffered before fd 1 is restored.
    with contextlib.suppress(Exception):
        _libc().fflush(None)


class Captured:
    """Text a C++ library wrote to stdout inside :func:`capture_stdout`."""

    def __init__(self) -> None:
        self.text = ""

    def lines(self) -> list[str]:
        return [line for line in self.text.splitlines() if line.strip()]


@contextlib.contextmanager
def capture_stdout() -> Iterator[Captured]:
    """Redirect file descriptor 1 (C and Python level) to a temporary file.

    The captured text is available on the yielded object after the block ends,
    also when the block raises.
    """
    captured = Captured()
    sys.stdout.flush()
    _flush_c_stdout()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 1)
        try:
            yield captured
        finally:
            sys.stdout.flush()
            _flush_c_stdout()
            os.dup2(saved, 1)
            os.close(saved)
            tmp.seek(0)
            captured.text = tmp.read().decode("utf-8", "replace")


@functools.cache
def silence_fastjet_banner() -> None:
    """Print FastJet's one-time banner into a capture (logged at DEBUG), never on stdout."""
    import fastjet

    with capture_stdout() as out:
        fastjet._swig.ClusterSequence.print_banner()
    for line in out.lines():
        log.debug("fastjet: %s", line)
