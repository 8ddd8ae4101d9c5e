"""The analysis loop with a network in it: select, render, infer, histogram.

:class:`InferenceProcessor` is the task's :class:`~.base.TaskProcessor` (the
same selection, cutflow and selection histograms — inherited, not copied)
plus, chunk by chunk, the model: the selected events' objects are turned into
the model's input (images drawn by the C++ renderer with the render config of
the model card), the ONNX model runs in onnxruntime (CUDA when usable, else
CPU), and the weighted histograms of :mod:`eventlens.inference.hists` are
filled: mass per predicted class (split by true class) and every class's score.

Optionally each chunk's per-event scores go to Parquet (atomically, one file
per chunk, named after the chunk), and a few example events per predicted class are kept for the
gallery of ``eventlens plot``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from eventlens.config.selection import TaskConfig
from eventlens.inference import OnnxWrapper
from eventlens.inference import hists as infer_hists
from eventlens.io import atomic_path
from eventlens.modelcard import ModelCard
from eventlens.training.metrics import softmax

from .base import TaskProcessor
from .task import ChunkResult, Task

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
    ) -> None:
        super().__init__(task, config, output_dir=None)
        card.check_task(task.name)
        card.check_classes(list(config.classes))
        self.classes = list(card.classes)
        self.outputs_are_logits = "logit" in card.output.meaning.lower()
        self.model = OnnxWrapper(
            model_path, preprocess=card.model_input(), batch_size=batch_size, threads=threads
        )
        self.scores_dir = None if scores_dir is None else str(scores_dir)

    def after_selection(self, result: ChunkResult, dataset: str, chunk: str) -> dict[str, Any]:
        m = self.config.histograms.mass
        booked = infer_hists.book(self.classes, m.bins, (m.start, m.stop))
        n = len(result.label)
        if n == 0:
            return {"inference": booked, "examples": {}, "scores": {}}
        raw = np.asarray(self.model.predict(result.objects), dtype=np.float32)
        probs = softmax(raw) if self.outputs_are_logits else raw
        predicted = probs.argmax(axis=1)
        names = np.asarray(self.classes)
        booked["mass"].fill(
            dataset=dataset,
            truth=result.label,
            predicted=names[predicted],
            mass=result.mass,
            weight=result.weight,
        )
        for k, cls in enumerate(self.classes):
            booked["score"].fill(
                dataset=dataset,
                truth=result.label,
                cls=cls,
                score=np.clip(probs[:, k], 0.0, 1.0 - 1e-7),
                weight=result.weight,
            )
        return {
            "inference": booked,
            "examples": self._examples(result, probs, predicted, dataset),
            "scores": self._write_scores(result, probs, predicted, dataset, chunk),
        }

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
