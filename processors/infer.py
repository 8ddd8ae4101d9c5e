"""``eventlens infer``: the task's selection with the ONNX model in the loop.

The driver reuses :mod:`.select` step by step — the same fileset pre-check,
weights, executors and cutflow bookkeeping — and runs
:class:`~.infer_processor.InferenceProcessor` instead of the table writer.
Before the first chunk it loads the model card, opens one onnxruntime session
and checks that the model's input shape is the one the card's render config
draws (and, when a render config is given explicitly, that it is the card's).

Outputs in the output folder (all atomic): ``inference.coffea`` (the
inference histograms, example events per predicted class, the model card and
the datasets' metadata), the selection's ``results.coffea``, ``cutflow.json``
/``.txt`` and ``manifest.json``, ``summary.json`` (yields per predicted class),
and with ``scores=True`` per-event scores in ``scores/*.parquet``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from eventlens.errors import ConfigError
from eventlens.inference import OnnxWrapper
from eventlens.io import atomic_path, write_json
from eventlens.modelcard import (
    ModelCardError,
    card_render_config,
    check_render_config,
    load_model_card,
)
from eventlens.render import RenderConfig

from . import select
from .infer_processor import EXAMPLES_PER_CLASS, InferenceProcessor
from .inputs import needs_of
from .tasks import get_task, load_config

log = logging.getLogger(__name__)

INFERENCE = "inference.coffea"
SUMMARY = "summary.json"
SCORES_DIR = "scores"


def check_model_input(model_path: str | Path, card: dict[str, Any]) -> None:
    """The ONNX input must take the card's render config's (C, H, W) as float32."""
    config = card_render_config(card)
    wrapper = OnnxWrapper(model_path, threads=1)
    shape = wrapper.input_shape
    expected = [config.n_channels, config.height, config.width]
    if len(shape) != 4 or [s for s in shape[1:]] != expected:
        raise ModelCardError(
            f"{model_path}: the ONNX input has shape {shape}, but its card's render config "
            f"draws (batch, {', '.join(map(str, expected))}); the model and its card do not "
            "belong together"
        )


def run_inference(
    model: str | Path,
    fileset: str | Path | Mapping[str, Any],
    output_dir: str | Path,
    *,
    config: str | Path | None = None,
    render_config: RenderConfig | None = None,
    executor: Any = "iterative",
    workers: int = 2,
    chunksize: int = 100_000,
    skip_bad_files: bool = False,
    luminosity_pb: float | None = None,
    overwrite: bool = False,
    scores: bool = False,
    batch_size: int = 1024,
    status: bool = True,
    timeout: int = 30,
) -> dict[str, Any]:
    """Select, render and classify the events of ``fileset`` with ``model`` (an .onnx).

    ``executor`` is a name (iterative, futures, dask) or a ready coffea executor
    (as :func:`eventlens.condor.cluster.condor_inference` passes).
    """
    model = Path(model)
    card = load_model_card(model)
    if render_config is not None:
        check_render_config(card, render_config)
    check_model_input(model, card)
    spec = get_task(card["task"])
    cfg = load_config(spec.name, config, luminosity_pb)
    if cfg.digest() != card.get("selection", {}).get("hash"):
        log.warning(
            "the selection config (%s) is not the one the model was trained after (%s)",
            cfg.digest(),
            card.get("selection", {}).get("hash"),
        )
    if chunksize < 1:
        raise ConfigError(f"--chunksize must be >= 1, got {chunksize}")
    needs = needs_of(cfg)
    datasets = select.load_fileset(fileset)
    out_dir = Path(output_dir)
    _refuse_old(out_dir, overwrite)
    select._prepare_output(out_dir, overwrite, clear=False)
    plan = select.plan_inputs(datasets, cfg, needs, skip_bad_files, timeout)
    out_dir = select._prepare_output(out_dir, overwrite)
    scores_dir = out_dir / SCORES_DIR if scores else None
    if scores_dir is not None:
        scores_dir.mkdir(exist_ok=True)
    proc = InferenceProcessor(
        spec,
        cfg,
        model,
        card,
        batch_size=batch_size,
        threads=None if executor == "iterative" else 1,  # one ORT thread per worker process
        scores_dir=scores_dir,
    )
    t0 = time.perf_counter()
    out = select._execute(
        plan, spec, cfg, needs, out_dir, executor, workers, chunksize, status, timeout, proc=proc
    )
    seconds = time.perf_counter() - t0
    select._finish(
        out,
        plan,
        spec,
        cfg,
        out_dir,
        skip_bad_files,
        {
            "executor": executor if isinstance(executor, str) else type(executor).__name__,
            "workers": workers,
            "chunksize": chunksize,
            "seconds": seconds,
        },
    )
    return _write_outputs(out, plan, card, out_dir, seconds, proc, model)


def _refuse_old(out_dir: Path, overwrite: bool) -> None:
    if (out_dir / INFERENCE).exists() and not overwrite:
        raise FileExistsError(f"{out_dir} already holds inference output; pass --overwrite")
    if overwrite:
        (out_dir / INFERENCE).unlink(missing_ok=True)
        (out_dir / SUMMARY).unlink(missing_ok=True)


def _write_outputs(
    out: dict[str, Any],
    plan: select.Plan,
    card: dict[str, Any],
    out_dir: Path,
    seconds: float,
    proc: InferenceProcessor,
    model: Path,
) -> dict[str, Any]:
    from coffea.util import save

    from eventlens.inference import hists as infer_hists

    booked = out.get("inference")
    if booked is None:
        m = proc.config.histograms.mass
        booked = infer_hists.book(proc.classes, m.bins, (m.start, m.stop))
    examples = {cls: evs[:EXAMPLES_PER_CLASS] for cls, evs in out.get("examples", {}).items()}
    datasets = {
        name: {
            "simulation": info["simulation"],
            "class": info["class"],
            "metadata": info["metadata"],
        }
        for name, info in plan.datasets.items()
    }
    result = {
        "model": str(model),
        "card": {k: v for k, v in card.items() if k != "_path"},
        "classes": proc.classes,
        "task": proc.task.name,
        "hists": booked,
        "examples": examples,
        "datasets": datasets,
        "luminosity_pb": proc.config.luminosity_pb,
    }
    with atomic_path(out_dir / INFERENCE) as tmp:
        save(result, tmp)
    h = booked["mass"]
    yields: dict[str, dict[str, float]] = {}
    for ds in h.axes["dataset"]:
        per = h[{"dataset": ds, "truth": sum, "mass": sum}]
        yields[ds] = {
            cls: float(v) for cls, v in zip(h.axes["predicted"], per.values(), strict=True)
        }
    n_in = sum(cf["read"] for cf in out.get("cutflow", {}).values())
    n_sel = int(
        sum(
            np.sum(v)
            for v in [h[{"dataset": sum, "truth": sum, "mass": sum, "predicted": sum}].value]
        )
    )
    summary = {
        "model": card["name"],
        "task": proc.task.name,
        "classes": proc.classes,
        "yields_per_predicted_class": yields,
        "events_read": n_in,
        "seconds": seconds,
        "events_per_second": n_in / seconds if seconds > 0 else None,
        "scores": sorted(out.get("scores", {}).keys()) if out.get("scores") else [],
        "weighted_selected_events": n_sel,
    }
    write_json(out_dir / SUMMARY, summary)
    log.info(
        "inference: %d events read in %.1f s; yields per predicted class: %s", n_in, seconds, yields
    )
    return result
