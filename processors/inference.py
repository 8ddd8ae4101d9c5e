"""The analysis loop with a network in it: select, render, infer, histogram, vary.

:class:`InferenceProcessor` is the task's :class:`~.base.TaskProcessor` (the
same selection, cutflow and selection histograms — inherited, not copied)
plus, chunk by chunk, the model: the selected events' objects are turned into
the model's input (images drawn by the C++ renderer with the render config of
the model card), the ONNX model runs in onnxruntime (CUDA when usable, else
CPU), and two sets of weighted histograms are filled:

* ``inference`` (:mod:`eventlens.inference.hists`, for studies and plots): mass
  per predicted class split by true class, and every class's score — nominal;
* ``measurement`` (:mod:`.measurement`, the histogram contract of
  :mod:`eventlens.stats.io`): process × region × variation × observable, with the
  nominal weight (normalisation × scale factors), each scale-factor variation and
  each shape variation (:mod:`.systematics`: objects shifted, the selection
  re-applied, only events whose picture changed re-classified).

Optionally each chunk's per-event scores go to Parquet (atomically, one file
per chunk, named after the chunk), and a few example events per predicted class are kept for the
gallery of ``eventlens plot``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from eventlens.config.selection import TaskConfig
from eventlens.inference import OnnxWrapper
from eventlens.inference import hists as infer_hists
from eventlens.io import atomic_path
from eventlens.modelcard import ModelCard
from eventlens.render.batch import flatten_objects
from eventlens.training.metrics import softmax

from . import measurement
from .base import TaskProcessor
from .inputs import Inputs, needs_of
from .systematics import EventWeights, ShapeVariation, shape_variations, vary
from .task import ChunkResult, Task, analyse

#: Example events kept per predicted class and chunk (capped again after merging).
EXAMPLES_PER_CLASS = 6


class InferenceProcessor(TaskProcessor):
    """Selection + in-loop ONNX inference for one task (see module docstring)."""

    def __init__(
        self,
        task: Task,
        config: TaskConfig,
        model_path: str | Path,
        card: ModelCard,
        batch_size: int = 1024,
        threads: int | None = 1,
        scores_dir: str | Path | None = None,
        shapes: bool = True,
    ) -> None:
        super().__init__(task, config, output_dir=None)
        card.check_task(task.name)
        card.check_classes(list(config.classes))
        self.needs = needs_of(config, measurement=True)
        self.classes = list(card.classes)
        self.outputs_are_logits = "logit" in card.output.meaning.lower()
        self.model_input = card.model_input()
        self.model = OnnxWrapper(
            model_path, preprocess=self.model_input, batch_size=batch_size, threads=threads
        )
        self.scores_dir = None if scores_dir is None else str(scores_dir)
        self.weights = EventWeights(config)
        self.shapes: list[ShapeVariation] = shape_variations(config) if shapes else []
        self.variations = [*self.weights.variations(), *(v.label for v in self.shapes)]

    def book_measurement(self) -> dict[str, Any]:
        """Empty contract histograms of this run (:mod:`.measurement`)."""
        return measurement.book(
            self.config,
            self.classes,
            self.variations,
            self.task.axis_label,
            cutbased="jet" in self.config.objects,
        )

    def predict(self, objects: ak.Array) -> np.ndarray:
        """Class probabilities (N, K) float32 of the events' objects."""
        raw = np.asarray(self.model.predict(objects), dtype=np.float32)
        return softmax(raw) if self.outputs_are_logits else raw

    def after_selection(
        self,
        result: ChunkResult,
        dataset: str,
        chunk: str,
        inputs: Inputs | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        m = self.config.histograms.mass
        booked = infer_hists.book(self.classes, m.bins, (m.start, m.stop))
        contract = self.book_measurement()
        n = len(result.label)
        simulation = inputs is None or inputs.is_simulation
        process = measurement.process_name(dataset, metadata, simulation)
        out: dict[str, Any] = {"inference": booked, "measurement": contract}
        if n == 0:
            out.update(examples={}, scores={})
        if inputs is None:
            weights = None
            weight = result.weight
        else:
            weights = self.weights.of(result, inputs)
            weight = weights.weight()
        probs = (
            self.predict(result.objects) if n else np.zeros((0, len(self.classes)), np.float32)
        )
        if n:
            predicted = probs.argmax(axis=1)
            names = np.asarray(self.classes)
            booked["mass"].fill(
                dataset=dataset,
                truth=result.label,
                predicted=names[predicted],
                mass=result.mass,
                weight=weight,
            )
            for k, cls in enumerate(self.classes):
                booked["score"].fill(
                    dataset=dataset,
                    truth=result.label,
                    cls=cls,
                    score=np.clip(probs[:, k], 0.0, 1.0 - 1e-7),
                    weight=weight,
                )
            out["examples"] = self._examples(result, probs, predicted, dataset)
            out["scores"] = self._write_scores(result, probs, predicted, dataset, chunk)
        self._fill(contract, process, measurement.NOMINAL, result, probs, weight)
        if weights is None or not simulation:
            return out
        for name in self.variations[: len(self.variations) - len(self.shapes)]:
            self._fill(contract, process, name, result, probs, weights.weight(name))
        counts: dict[str, dict[str, int]] = {}
        notes: set[str] = set()
        for variation in self.shapes:
            shifted, note = vary(inputs, variation)
            if note:
                notes.add(f"{dataset}: {note}")
            varied = analyse(self.task, self.config, shifted, dataset, metadata)
            vprobs, count = self._varied_scores(result, probs, varied)
            counts[variation.label] = count
            vweight = self.weights.of(varied, shifted).weight()
            self._fill(contract, process, variation.label, varied, vprobs, vweight)
        out["variations"] = {dataset: counts}
        out["notes"] = notes
        return out

    def _fill(
        self,
        contract: dict[str, Any],
        process: str,
        variation: str,
        result: ChunkResult,
        probs: np.ndarray,
        weight: np.ndarray,
    ) -> None:
        measurement.fill(
            contract,
            self.config,
            process,
            variation,
            self.classes,
            probs,
            result.mass,
            weight,
            result.counts.get("jet"),
            result.counts.get("bjet"),
        )

    def _varied_scores(
        self, nominal: ChunkResult, probs: np.ndarray, varied: ChunkResult
    ) -> tuple[np.ndarray, dict[str, int]]:
        """Scores of the varied pass: the nominal ones for events selected in both whose
        model input did not change (:meth:`eventlens.modelio.ModelInput.unchanged`),
        the model's for the others; and how many were which."""
        assert nominal.selected is not None and varied.selected is not None
        pos_nom = np.flatnonzero(nominal.selected)
        pos_var = np.flatnonzero(varied.selected)
        _, i_nom, i_var = np.intersect1d(pos_nom, pos_var, assume_unique=True, return_indices=True)
        out = np.empty((len(pos_var), len(self.classes)), dtype=probs.dtype)
        todo = np.ones(len(pos_var), dtype=bool)
        if len(i_var):
            same = self.model_input.unchanged(
                flatten_objects(nominal.objects[i_nom]), flatten_objects(varied.objects[i_var])
            )
            out[i_var[same]] = probs[i_nom[same]]
            todo[i_var[same]] = False
        if todo.any():
            out[todo] = self.predict(varied.objects[np.flatnonzero(todo)])
        count = {
            "selected": len(pos_var),
            "shared": len(i_var),
            "same_picture": int(len(pos_var) - todo.sum()),
            "classified": int(todo.sum()),
        }
        return out, count

    def _examples(
        self, result: ChunkResult, probs: np.ndarray, predicted: np.ndarray, dataset: str
    ) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for k, cls in enumerate(self.classes):
            idx = np.flatnonzero(predicted == k)[:EXAMPLES_PER_CLASS]
            out[cls] = [
                {
                    "dataset": dataset,
                    "objects": ak.to_list(result.objects[i]),
                    "score": float(probs[i, k]),
                    "mass": float(result.mass[i]),
                    "truth": int(result.label[i]),
                    "event": int(result.ids["event"][i]),
                }
                for i in idx
            ]
        return out

    def _write_scores(
        self,
        result: ChunkResult,
        probs: np.ndarray,
        predicted: np.ndarray,
        dataset: str,
        chunk: str,
    ) -> dict[str, dict[str, int]]:
        if self.scores_dir is None:
            return {}
        import pyarrow as pa
        import pyarrow.parquet as pq

        ids = result.ids
        name = chunk
        table = pa.table(
            {
                "run": ids["run"],
                "luminosityBlock": ids["luminosityBlock"],
                "event": ids["event"],
                "label": result.label,
                "weight": result.weight,
                "mass": result.mass,
                "predicted": predicted.astype(np.int32),
                "scores": pa.FixedSizeListArray.from_arrays(probs.ravel(), len(self.classes)),
            }
        )
        path = Path(self.scores_dir) / name
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
        return {dataset: {name: len(probs)}}
