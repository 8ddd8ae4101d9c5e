"""``eventlens infer``: the task's selection with the ONNX model in the loop.

The run is the one pipeline of :mod:`.run` with
:class:`~eventlens.processors.inference.InferenceProcessor` (the task's
selection processor plus the model) instead of the table writer.  Before the
first chunk the model card is loaded and checked: the ONNX input shape must be
what the card's render config draws (and a render config given explicitly
must be the card's).

Outputs in the output folder (all atomic): ``inference.json`` (the inference
histograms, example events per predicted class, the model card, the
datasets' metadata and, per shape variation, how many events were re-classified;
data-only, read with :func:`read_inference`), the
selection's ``hists.json``, ``cutflow.json``/``.txt`` and ``manifest.json``,
``summary.json`` (yields per predicted class), and with ``scores=True``
per-event scores in ``scores/<chunk>.parquet``.

For the measurement (:func:`write_measurement`): ``histograms.json``, the
histogram contract of :mod:`eventlens.stats.io` (process × region × variation ×
observable: ``mass``, ``score``, ``mass_cutbased``, ``mass_inclusive``; see
:mod:`eventlens.processors.measurement`), and from it with the task's fit model
(``configs/fit/<task>.yaml``) ``stats/shapes.root``, ``stats/datacard.txt`` and
``stats/workspace.json`` (:func:`eventlens.stats.write_statistics_inputs`'s
files), which ``eventlens fit OUT`` fits.  A run whose histograms cannot make a
model (no signal process in the fileset, a name combine cannot take) keeps its
``histograms.json`` and says why in one warning and in ``summary.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from eventlens.errors import InputFileError
from eventlens.inference import OnnxWrapper
from eventlens.io import write_json
from eventlens.modelcard import ModelCard, load_model_card
from eventlens.processors.inference import EXAMPLES_PER_CLASS
from eventlens.render import RenderConfig

from . import results
from .finish import RunOutput
from .run import PendingRun, RunOptions, run
from .spec import INFER, SCORES_DIR, RunSpec

log = logging.getLogger(__name__)

INFERENCE = "inference.json"
SUMMARY = "summary.json"
__all__ = ["INFERENCE", "SCORES_DIR", "SUMMARY", "read_inference", "run_inference"]


def check_model_input(model_path: str | Path, card: ModelCard) -> None:
    """The ONNX graph must take what the card says and give one column per class."""
    session = OnnxWrapper(model_path, threads=1).session
    card.check_graph(
        session.get_inputs()[0].shape, [o.shape for o in session.get_outputs()], model_path
    )


def inference_spec(
    model: str | Path,
    *,
    config: str | Path | None = None,
    render_config: RenderConfig | None = None,
    luminosity_pb: float | None = None,
    scores: bool = False,
    batch_size: int = 1024,
    threads: int | None = 1,
    shapes: bool = True,
) -> RunSpec:
    """The :class:`RunSpec` of classifying ``model``'s task with ``model`` (an .onnx).

    Checked here, before any file is opened: the card (and, when given, that
    ``render_config`` is the card's), that the ONNX input is what the card
    draws, and whether the selection config is the one the model was trained after.
    """
    from eventlens.processors.registry import load_config, trained_digest

    model = Path(model).resolve()
    if not model.exists():
        raise InputFileError(f"{model}: no such ONNX model (export one with `eventlens export`)")
    card = load_model_card(model)
    if render_config is not None:
        card.check_render_config(render_config)
    check_model_input(model, card)
    cfg = load_config(card.task, config, luminosity_pb)
    trained = trained_digest(card.task, card.selection)
    if cfg.digest() != trained:
        log.warning(
            "the selection config (%s) is not the one the model was trained after (%s)",
            cfg.digest(),
            trained,
        )
    return RunSpec(
        kind=INFER,
        task=card.task,
        config_path=str(Path(cfg.source).resolve()),
        config_digest=cfg.digest(),
        luminosity_pb=luminosity_pb,
        model=str(model),
        batch_size=batch_size,
        threads=threads,
        scores=scores,
        shapes=shapes,
    )


def run_inference(
    model: str | Path,
    fileset: str | Path | Mapping[str, Any],
    output_dir: str | Path,
    *,
    config: str | Path | None = None,
    render_config: RenderConfig | None = None,
    luminosity_pb: float | None = None,
    scores: bool = False,
    batch_size: int = 1024,
    shapes: bool = True,
    **options: Any,
) -> dict[str, Any] | PendingRun:
    """Select, render and classify the events of ``fileset`` with ``model`` (an .onnx).

    ``shapes=False`` fills the nominal pass only (no shape systematics).
    ``options`` are the fields of :class:`~.run.RunOptions` (as for
    :func:`~.select.run_selection`).  With the iterative executor onnxruntime
    uses every core; other executors get one onnxruntime thread per worker process.
    Returns the run's ``inference.json`` content (:func:`read_inference`), or
    the :class:`~.run.PendingRun` of a batch run that was not waited for.
    """
    executor = options.get("executor", "iterative")
    spec = inference_spec(
        model,
        config=config,
        render_config=render_config,
        luminosity_pb=luminosity_pb,
        scores=scores,
        batch_size=batch_size,
        threads=None if executor == "iterative" else 1,
        shapes=shapes,
    )
    result = run(spec, fileset, output_dir, RunOptions(**options))
    if isinstance(result, PendingRun):
        return result
    return read_inference(result.output_dir)


def inference_outputs(spec: RunSpec) -> Callable[[RunOutput, Path], None]:
    """The finish step's addition for inference runs: ``inference.json`` and ``summary.json``."""

    def write(result: RunOutput, folder: Path) -> None:
        _write_outputs(result, load_model_card(spec.model), Path(spec.model), folder)

    return write


def _write_outputs(result: RunOutput, card: ModelCard, model: Path, folder: Path) -> None:
    from eventlens.inference import hists as infer_hists

    out, manifest = result.accumulator, result.manifest
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
    results.write(
        folder / INFERENCE,
        {
            "model": str(model),
            "card": card.to_dict(),
            "classes": classes,
            "task": manifest["task"],
            "hists": booked,
            "examples": examples,
            "datasets": datasets,
            "luminosity_pb": manifest["luminosity_pb"],
            "variations": out.get("variations", {}),
        },
    )
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
    n_read = sum(cf["read"] for cf in result.cutflow.values())
    n_selected = sum(cf["selected"] for cf in result.cutflow.values())
    seconds = result.seconds
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
    summary["variations"] = _variation_counts(out.get("variations", {}))
    summary["statistics"] = write_measurement(result, card, folder, booked_empty=classes)
    write_json(folder / SUMMARY, summary)
    log.info(
        "inference: %d events read, %d classified in %.1f s; yields per predicted class: %s",
        n_read,
        n_selected,
        seconds,
        yields,
    )


def _variation_counts(per_dataset: Mapping[str, Mapping[str, Mapping[str, int]]]) -> dict:
    """Per shape variation, summed over datasets: selected, shared with the nominal, same
    picture (nominal scores reused), classified anew; and the fraction re-classified."""
    total: dict[str, dict[str, Any]] = {}
    for counts in per_dataset.values():
        for label, c in counts.items():
            t = total.setdefault(label, dict.fromkeys(c, 0))
            for k, v in c.items():
                t[k] += v
    for t in total.values():
        t["fraction_classified"] = t["classified"] / t["selected"] if t["selected"] else None
    return total


def process_infos(
    manifest: Mapping[str, Any], signal: str | None
) -> tuple[dict[str, Any], bool]:
    """The contract's per-process metadata (:class:`eventlens.stats.io.ProcessInfo`) from the
    run's datasets, and whether any data is collision data (not eventlens pseudo-data)."""
    from eventlens.processors.measurement import DATA, process_name
    from eventlens.stats import ProcessInfo

    infos: dict[str, ProcessInfo] = {}
    real_data = False
    for name, ds in manifest["datasets"].items():
        meta = ds.get("metadata") or {}
        proc = process_name(name, meta, ds["simulation"])
        if proc == DATA:
            pseudo = meta.get("process") == "pseudodata"
            real_data |= not pseudo
            label = "Pseudo-data" if pseudo and not real_data else "Data"
            infos[proc] = ProcessInfo(label=label, data=True)
        elif proc not in infos:
            label = meta.get("label") if isinstance(meta.get("label"), str) else proc
            xsec = meta.get("xsec")
            infos[proc] = ProcessInfo(
                label=label,
                xsec_pb=float(xsec) if xsec is not None else None,
                signal=proc == signal,
            )
    return infos, real_data


def write_measurement(
    result: RunOutput, card: ModelCard, folder: Path, booked_empty: list[str] | None = None
) -> dict[str, Any]:
    """``histograms.json`` and the statistics inputs of a finished run (module docstring);
    returns what was written (or why the model could not be made)."""
    from eventlens.errors import EventLensError
    from eventlens.processors.measurement import book
    from eventlens.stats import (
        HISTOGRAMS,
        STATS_DIR,
        HistogramSet,
        build_model,
        resolve_fit_model,
        write_histograms,
        write_model_files,
    )

    manifest = result.manifest
    task = manifest["task"]
    contract = result.accumulator.get("measurement")
    if contract is None:  # no chunk at all: the empty histograms, nominal only
        from eventlens.processors.registry import get_task, load_config

        cfg = load_config(task, manifest["selection_config_path"], manifest["luminosity_pb"])
        contract = book(
            cfg,
            booked_empty or list(card.classes),
            [],
            get_task(task).axis_label,
            cutbased="jet" in cfg.objects,
        )
    try:
        fit_model = resolve_fit_model(None, task)
    except EventLensError as exc:
        log.warning("no statistics inputs: %s", exc)
        fit_model = None
    processes, real_data = process_infos(manifest, fit_model.signal if fit_model else None)
    lumi = manifest["luminosity_pb"]
    hset = HistogramSet(contract, processes, luminosity_pb=lumi, task=task, real_data=real_data)
    write_histograms(folder / HISTOGRAMS, hset)
    written: dict[str, Any] = {"histograms": HISTOGRAMS}
    if fit_model is None:
        return written
    try:
        observable = None if fit_model.observable else "mass"
        model = build_model(hset, fit_model, observable=observable)
        files = write_model_files(model, folder / STATS_DIR)
    except EventLensError as exc:
        log.warning(
            "no statistics inputs (shapes.root, datacard, workspace): %s; histograms.json is "
            "written, run `eventlens fit %s --model ...` once the model can be built",
            exc,
            result.output_dir,
        )
        written["error"] = str(exc)
        return written
    written.update({k: str(v.relative_to(folder)) for k, v in files.items()})
    written["fit_model"] = fit_model.source or None
    return written


def read_inference(path: str | Path) -> dict[str, Any]:
    """The ``inference.json`` of an ``eventlens infer`` folder (or the file itself)."""
    path = Path(path)
    return results.read(path / INFERENCE if path.is_dir() else path)
