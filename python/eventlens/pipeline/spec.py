"""What a run executes, as data: :class:`RunSpec` rebuilds the coffea processor anywhere.

The driver, a Dask worker and an HTCondor batch job must run the very same
processor.  Shipping a pickled processor to a batch job (and reading pickles
back) would make every results folder executable; instead the run is
described by a few plain values — the task, the path and SHA-256 of its
selection config, the model — stored as JSON in the staging folder, and
:meth:`RunSpec.build` makes the processor from them (refusing a config that
changed since the run was planned).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eventlens.errors import ConfigError

#: Run kinds: the table-writing selection, and the selection with a model in the loop.
SELECT, INFER = "select", "infer"
SCORES_DIR = "scores"


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines the processor of a run (module docstring)."""

    kind: str
    task: str
    config_path: str
    config_digest: str
    luminosity_pb: float | None = None
    model: str | None = None  # infer: the .onnx (its card beside it)
    batch_size: int = 1024
    threads: int | None = 1  # onnxruntime intra-op threads per worker process
    scores: bool = False  # infer: per-event scores (Parquet) per chunk
    shapes: bool = True  # infer: fill the shape systematics (measurement.shapes) too

    def __post_init__(self) -> None:
        if self.kind not in (SELECT, INFER):
            raise ConfigError(f"unknown run kind {self.kind!r}")
        if self.kind == INFER and not self.model:
            raise ConfigError("an inference run needs a model")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSpec:
        return cls(**data)

    def load_config(self) -> Any:
        """The selection config, checked to be the one the run was planned with."""
        from eventlens.processors.registry import load_config

        cfg = load_config(self.task, self.config_path, self.luminosity_pb)
        if cfg.digest() != self.config_digest:
            raise ConfigError(
                f"{self.config_path}: the selection config changed since this run was planned "
                f"(sha256 {cfg.digest()[:12]} vs {self.config_digest[:12]}); start the run again"
            )
        return cfg

    def needs(self, cfg: Any) -> Any:
        """What the processor reads (:func:`eventlens.processors.inputs.needs_of`): an
        inference run also reads what its systematics need."""
        from eventlens.processors.inputs import needs_of

        return needs_of(cfg, measurement=self.kind == INFER)

    def build(self, staging: str | Path | None) -> Any:
        """The coffea processor; it writes its per-chunk files (tables, scores) into ``staging``."""
        from eventlens.processors.registry import get_task

        task, cfg = get_task(self.task), self.load_config()
        if self.kind == SELECT:
            from eventlens.processors.base import TaskProcessor

            return TaskProcessor(task, cfg, output_dir=staging)
        from eventlens.modelcard import load_model_card
        from eventlens.processors.inference import InferenceProcessor

        assert self.model is not None
        scores = Path(staging) / SCORES_DIR if self.scores and staging is not None else None
        return InferenceProcessor(
            task,
            cfg,
            self.model,
            load_model_card(self.model),
            batch_size=self.batch_size,
            threads=self.threads,
            scores_dir=scores,
            shapes=self.shapes,
        )
