"""The output folder of a run: written beside it, swapped in only when the run has finished.

A run never writes into its output folder ``OUT`` directly.  Everything —
table and score files written by the workers, each chunk's results, the
HTCondor batch bookkeeping, finally the manifest — goes into the sibling
``OUT.incomplete/``; only when the run has succeeded does :meth:`Staging.commit`
put it in place of ``OUT``.  Hence:

* a failed or interrupted run, with or without ``--overwrite``, leaves the
  earlier results in ``OUT`` exactly as they were;
* a new run's folder holds only its own files (no stale ``scores/*.parquet``
  of an older run); files eventlens did not write (a user's plots in
  ``OUT/figures``) are carried over into the new folder;
* an interrupted run can be continued (``--resume``): its chunk results are
  in ``OUT.incomplete/chunks/`` and its plan in ``OUT.incomplete/run.json``;
  without ``--resume`` a new run refuses to start over it (it says so), except
  when the earlier run ended with an error (``failed.json``): that one is
  discarded, since ``OUT`` still holds the last good results.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventlens.errors import ConfigError, EventLensError
from eventlens.io import write_json

log = logging.getLogger(__name__)

SUFFIX = ".incomplete"
RUN = "run.json"
FAILED = "failed.json"
CHUNKS = "chunks"
MANIFEST = "manifest.json"

#: Names inside ``OUT`` that eventlens runs write; anything else in ``OUT`` is the user's.
OWNED = frozenset(
    {
        RUN,
        CHUNKS,
        MANIFEST,
        "cutflow.json",
        "cutflow.txt",
        "hists.json",
        "results.coffea",
        "tables",
        "scores",
        "batch",
        "inference.json",
        "inference.coffea",
        "summary.json",
        "statistics",
    }
)


class IncompleteRunError(EventLensError, FileExistsError):
    """``OUT.incomplete`` holds an interrupted run; neither --resume nor --overwrite given."""


def _writable_parent(path: Path) -> None:
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the output folder ({exc.strerror})") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{path}: the folder {parent} is not writable (read-only filesystem or no "
            "permission); choose another output folder with -o"
        )


@dataclass(frozen=True)
class Staging:
    """A run's staging folder ``OUT.incomplete`` and its final place ``OUT``."""

    final: Path
    path: Path

    @classmethod
    def of(cls, final: str | os.PathLike[str]) -> Staging:
        final = Path(final).absolute()
        return cls(final, final.with_name(final.name + SUFFIX))

    @property
    def chunks(self) -> Path:
        return self.path / CHUNKS

    def run_info(self) -> dict[str, Any]:
        """The stored ``run.json`` (plan + spec) of the run in this staging folder."""
        path = self.path / RUN
        if not path.exists():
            raise EventLensError(
                f"{self.path} holds no run.json: not an eventlens run folder, or the run was "
                "interrupted before its plan was written; start it again with --overwrite"
            )
        return json.loads(path.read_text())

    def open(self, overwrite: bool, resume: bool) -> bool:
        """Prepare the staging folder; True when an interrupted run is being resumed.

        Refuses, with one line saying what to do, an ``OUT`` that is a file, an
        unwritable place, a finished run in ``OUT`` (without ``--overwrite``)
        and an interrupted run in ``OUT.incomplete`` (without ``--resume`` or
        ``--overwrite``).
        """
        final = self.final
        if final.exists() and not final.is_dir():
            raise ConfigError(f"{final}: is a file, not an output folder; choose another -o")
        _writable_parent(final)
        if self.path.exists() and (self.path / FAILED).exists() and not resume:
            why = json.loads((self.path / FAILED).read_text()).get("error", "?")
            log.info("discarding %s (a failed run: %s)", self.path, why)
            shutil.rmtree(self.path)
        if self.path.exists():
            if resume:
                (self.path / FAILED).unlink(missing_ok=True)
                self._clean_leftovers()
                log.info("resuming the interrupted run in %s", self.path)
                return True
            if not overwrite:
                raise IncompleteRunError(
                    f"{self.path} holds an incomplete run (interrupted or failed); pass --resume "
                    "to continue it or --overwrite to start again"
                )
            shutil.rmtree(self.path)
        elif resume:
            log.info("nothing to resume in %s: starting a new run", self.path)
        if (final / MANIFEST).exists() and not overwrite:
            raise FileExistsError(
                f"{final} already holds the output of a finished run; pass --overwrite to replace "
                "it (the old results stay until the new run has finished)"
            )
        try:
            self.chunks.mkdir(parents=True)
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot create ({exc.strerror})") from None
        return False

    def failed(self, error: BaseException) -> None:
        """Mark the run failed (by an error, not an interruption), or drop it if nothing ran.

        A failed run's staging folder is discarded by the next run unless that
        one resumes it (``--resume``: e.g. with ``--skip-bad-files`` after a
        corrupt file, keeping every chunk already done); a run that failed
        before its plan was written leaves nothing behind.
        """
        if not (self.path / RUN).exists():
            shutil.rmtree(self.path, ignore_errors=True)
            return
        (self.path / FAILED).unlink(missing_ok=True)
        write_json(self.path / FAILED, {"error": f"{type(error).__name__}: {error}"})

    def _clean_leftovers(self) -> None:
        """Remove half-written files of the interrupted run (``atomic_path`` temporaries)."""
        n = 0
        for tmp in self.path.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)
            n += 1
        if n:
            log.info("removed %d half-written file(s) of the interrupted run", n)
        self.chunks.mkdir(parents=True, exist_ok=True)

    def write_run(self, info: dict[str, Any]) -> None:
        write_json(self.path / RUN, info)

    def commit(self) -> Path:
        """Put the finished run in place of ``OUT``, keeping files eventlens did not write."""
        final, old = self.final, self.final.with_name(f".{self.final.name}.old-{os.getpid()}")
        if final.exists():
            final.rename(old)
        self.path.rename(final)
        if old.exists():
            for entry in old.iterdir():
                if entry.name not in OWNED and not (final / entry.name).exists():
                    entry.rename(final / entry.name)
            shutil.rmtree(old)
        return final
