"""The coffea processor shared by all tasks.

:class:`TaskProcessor` is stateless: configuration enters through
``__init__`` and ``process(events)`` returns a dict of mergeable things,

``hists``     the weighted histograms of :mod:`.hists`
``cutflow``   ``{dataset: {read, selected, steps: {step: {bad, failed, passed}}}}``
``tables``    ``{dataset: {table file name: {rows, source, entry_start, entry_stop}}}``
``entries``   ``{dataset: {input file: entries processed}}``
``failures``  a set of ``(dataset, file, start, stop, message)`` for chunks that
              could not be read (missing branch, corrupt baskets)
``notes``     a set of fallback messages (MET name, optional collection absent)

A chunk that cannot be read is not an exception: it comes back as a
``failures`` entry and the driver (:mod:`eventlens.pipeline.finish`) decides to stop with a
clear message or, with ``--skip-bad-files``, to report and go on.  This keeps
coffea from retrying a broken file and from printing a deep traceback.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import awkward as ak
from coffea import processor

from eventlens.config.selection import TaskConfig
from eventlens.errors import InputFileError
from eventlens.pipeline.table import TABLES_DIR, build_table, table_name, write_table

from . import hists
from .inputs import Inputs, inputs_from_nanoevents, needs_of
from .reuse import within_chunk
from .task import ChunkResult, Task, analyse

# NanoAODSchema warns about every cross-reference index (Muon_jetIdx, ...) whose
# target it does not see; the processors read only a filtered set of branches
# and use no cross-reference, so these warnings (hundreds per chunk, printed by
# each worker process) say nothing.  Set at import, i.e. in every worker too.
warnings.filterwarnings("ignore", message="Missing cross-reference index", category=RuntimeWarning)
# Photons are massless: the schema's notice that it zeroes Photon_mass is noise.
warnings.filterwarnings(
    "ignore", message="Branch Photon_mass already exists", category=RuntimeWarning
)


class TaskProcessor(processor.ProcessorABC):
    """Select one task's events, fill its histograms and write its table chunks.

    ``output_dir`` None skips the table (histograms and cutflow only).
    """

    def __init__(
        self, task: Task, config: TaskConfig, output_dir: str | Path | None = None
    ) -> None:
        self.task = task
        self.config = config
        self.needs = needs_of(config)
        self.output_dir = None if output_dir is None else str(output_dir)
        self.config_digest = config.digest()

    def process(self, events: ak.Array) -> dict[str, Any]:
        meta = events.metadata
        dataset, filename = meta["dataset"], meta["filename"]
        start, stop = int(meta["entrystart"]), int(meta["entrystop"])
        try:
            inputs = inputs_from_nanoevents(events, self.needs)
        except InputFileError as exc:
            return {"failures": {(dataset, filename, start, stop, str(exc))}}
        except Exception as exc:  # NanoEvents cannot build the chunk: a reading problem
            message = f"{filename}: entries {start}-{stop} unreadable ({type(exc).__name__}: {exc})"
            return {"failures": {(dataset, filename, start, stop, message.replace("\n", " "))}}
        # The shifted passes of the systematics share the object steps of the collections
        # they leave unchanged with the nominal pass (processors.reuse)
        with within_chunk():
            result = analyse(self.task, self.config, inputs, dataset, meta)
            out = self._accumulate(result, dataset)
            out["entries"] = {dataset: {filename: inputs.n}}
            out["tables"] = {dataset: self._write(result, dataset, filename, start, stop)}
            extra = self.after_selection(
                result, dataset, table_name(dataset, filename, start, stop), inputs, meta
            )
        out["notes"] |= set(extra.pop("notes", set()))
        out.update(extra)
        return out

    def after_selection(
        self,
        result: ChunkResult,
        dataset: str,
        chunk: str,
        inputs: Inputs | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Extra mergeable outputs computed from the selected events of a chunk.

        The selection itself is final here; subclasses add to it (the inference
        processor renders, runs the model and fills its histograms; with the
        chunk's ``inputs`` it also re-selects shifted objects for systematics)
        without repeating any of it.  ``chunk`` names the chunk's files
        (``<chunk>.parquet``); a ``notes`` set returned is added to the run's notes.
        """
        return {}

    def _accumulate(self, result: ChunkResult, dataset: str) -> dict[str, Any]:
        booked = hists.book(self.config)
        hists.fill(
            booked,
            dataset,
            result.label,
            result.weight,
            result.mass,
            result.met_pt,
            result.counts,
            result.nbtag,
        )
        return {
            "hists": booked,
            "cutflow": {dataset: result.cutflow.to_dict()},
            "failures": set(),
            "notes": set(result.notes),
        }

    def _write(
        self, result: ChunkResult, dataset: str, filename: str, start: int, stop: int
    ) -> dict[str, dict[str, Any]]:
        rows = len(result.label)
        if self.output_dir is None or rows == 0:
            return {}
        name = table_name(dataset, filename, start, stop)
        table = build_table(
            result.objects, result.label, result.weight, result.mass, dataset, result.ids
        )
        info = {
            "task": self.task.name,
            "dataset": dataset,
            "source": filename,
            "entry_start": start,
            "entry_stop": stop,
            "config_sha256": self.config_digest,
        }
        write_table(table, Path(self.output_dir) / TABLES_DIR / name, info)
        return {name: {"rows": rows, "source": filename, "entry_start": start, "entry_stop": stop}}

    def postprocess(self, accumulator: dict[str, Any]) -> dict[str, Any]:
        return accumulator
