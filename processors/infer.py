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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eventlens.errors import InputFileError
from eventlens.inference import OnnxWrapper
from eventlens.io import atomic_path, write_json
from eventlens.modelcard import ModelCard, load_model_card
from eventlens.render import RenderConfig

from . import select
from .config import TaskConfig
from .infer_processor import EXAMPLES_PER_CLASS, InferenceProcessor
from .task import Task

log = logging.getLogger(__name__)

INFERENCE = "inference.coffea"
SUMMARY = "summary.json"
SCORES_DIR = "scores"


def check_model_input(model_path: str | Path, card: ModelCard) -> None:
    """The ONNX graph must take what the card says and give one column per class."""
    session = OnnxWrapper(model_path, threads=1).session
    card.check_graph(
        session.get_inputs()[0].shape, [o.shape for o in session.get_outputs()], model_path
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
    if not model.exists():
        raise InputFileError(f"{model}: no such ONNX model (export one with `eventlens export`)")
    card = load_model_card(model)
    if render_config is not None:
        card.check_render_config(render_config)
    check_model_input(model, card)
    out_dir = Path(output_dir)
    _refuse_old(out_dir, overwrite)
    scores_dir = out_dir / SCORES_DIR if scores else None
    threads = None if executor == "iterative" else 1  # one ORT thread per worker process

    def make_processor(spec: Task, cfg: TaskConfig, _: Path) -> InferenceProcessor:
        if cfg.digest() != card.selection_hash:
            log.warning(
                "the selection config (%s) is not the one the model was trained after (%s)",
                cfg.digest(),
                card.selection_hash,
            )
        if scores_dir is not None:
            scores_dir.mkdir(parents=True, exist_ok=True)
        return InferenceProcessor(
            spec, cfg, model, card, batch_size=batch_size, threads=threads, scores_dir=scores_dir
        )

    selection = select.run_selection(
        card.task,
        fileset,
        out_dir,
        config=config,
        executor=executor,
        workers=workers,
        chunksize=chunksize,
        skip_bad_files=skip_bad_files,
        luminosity_pb=luminosity_pb,
        overwrite=overwrite,
        status=status,
        timeout=timeout,
        processor=make_processor,
    )
    return _write_outputs(selection, card, model)


def _refuse_old(out_dir: Path, overwrite: bool) -> None:
    if (out_dir / INFERENCE).exists() and not overwrite:
        raise FileExistsError(f"{out_dir} already holds inference output; pass --overwrite")
    if overwrite:
        (out_dir / INFERENCE).unlink(missing_ok=True)
        (out_dir / SUMMARY).unlink(missing_ok=True)


def _write_outputs(
    selection: select.SelectionOutput, card: ModelCard, model: Path
) -> dict[str, Any]:
    from coffea.util import save

    from eventlens.inference import hists as infer_hists

    out, manifest = selection.accumulator, selection.manifest
    classes = list(card.classes)
    booked = out.get("inference")
    if booked is None:  # no selected event anywhere
        m = manifest["selection_config"]["histograms"]["mass"]
        booked = infer_hists.book(classes, m["bins"], (m["start"], m["stop"]))
    examples = {cls: evs[:EXAMPLES_PER_CLASS] for cls, evs in out.get("examples", {}).items()}
    datasets = {
        name: {
            "simulation": info["simulation"],
            "class": info["class"],
            "metadata": info["metadata"],
        }
        for name, info in manifest["datasets"].items()
    }
    result = {
        "model": str(model),
        "card": card.to_dict(),
        "classes": classes,
        "task": manifest["task"],
        "hists": booked,
        "examples": examples,
        "datasets": datasets,
        "luminosity_pb": manifest["luminosity_pb"],
    }
    out_dir = selection.output_dir
    with atomic_path(out_dir / INFERENCE) as tmp:
        save(result, tmp)
    h = booked["mass"]
    yields = {
        ds: {
            cls: float(v)
            for cls, v in zip(
                h.axes["predicted"],
                h[{"dataset": ds, "truth": sum, "mass": sum}].values(),
                strict=True,
            )
        }
        for ds in h.axes["dataset"]
    }
    n_read = sum(cf["read"] for cf in selection.cutflow.values())
    n_selected = sum(cf["selected"] for cf in selection.cutflow.values())
    seconds = selection.seconds
    summary = {
        "model": card.name,
        "task": manifest["task"],
        "classes": classes,
        "yields_per_predicted_class": yields,
        "events_read": n_read,
        "events_selected": n_selected,
        "seconds": seconds,
        "events_per_second": n_read / seconds if seconds > 0 else None,
        "score_files": sorted(f for files in out.get("scores", {}).values() for f in files),
    }
    write_json(out_dir / SUMMARY, summary)
    log.info(
        "inference: %d events read, %d classified in %.1f s; yields per predicted class: %s",
        n_read,
        n_selected,
        seconds,
        yields,
    )
    return result
