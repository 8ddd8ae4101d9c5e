"""``eventlens explain``'s engine: load, choose events, explain, summarise, write.

Events come from the model's **test split** when the table is the one it was
trained on (recomputed from the event-identity hash and checked against the
digest the checkpoint or card records) — explaining training events would
describe what the network memorised.  Otherwise (another table, unlabelled
data) events are drawn from the whole table, with a warning.  Within the
chosen pool, ``n_events`` are taken in turn from each class (a seeded
shuffle), so every class gets a summary of its own.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..training.table import ObjectTable, read_table
from .event import EventExplanation
from .explainer import Explainer, ExplainOptions
from .model import ExplainableModel, load_explainable
from .report import event_stem, write_event, write_summary_json, write_summary_page
from .summary import summarise

log = logging.getLogger(__name__)


def candidate_events(table: ObjectTable, model: ExplainableModel,
                     split: str = "test") -> tuple[np.ndarray, str]:
    """The pool of events to explain and a description of it."""
    labelled = np.flatnonzero(table.label >= 0)
    if split == "all" or not labelled.size:
        pool = labelled if labelled.size else np.arange(len(table))
        return pool, "all labelled events of the table" if labelled.size else "all events"
    from ..training.config import SplitConfig
    from ..training.split import split_table

    config = model.info.get("config") or {}
    recorded = ((model.info.get("data") or {}).get("split_digests") or {}).get("test")
    try:
        split_config = SplitConfig(**(config.get("split") or {}))
    except TypeError:
        split_config = SplitConfig()
    parts = split_table(table, split_config, config.get("limits"))
    if recorded is not None and parts.digests["test"] == recorded:
        return parts.test, "the model's test split"
    log.warning("%s is not the table %s was trained on (test-split digest %s, recorded %s): "
                "explaining labelled events of the whole table, some may have been trained on",
                table.path, model.name, parts.digests["test"], recorded)
    return labelled, "labelled events of a table the model was not split on"


def choose_events(table: ObjectTable, pool: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` events of ``pool``, taken in turn from each class after a seeded shuffle."""
    rng = np.random.default_rng(seed)
    labels = table.label[pool]
    queues = [list(rng.permutation(pool[labels == c])) for c in np.unique(labels)]
    chosen: list[int] = []
    while len(chosen) < n and any(queues):
        for q in queues:
            if q and len(chosen) < n:
                chosen.append(int(q.pop(0)))
    return np.asarray(chosen, dtype=np.int64)


@dataclasses.dataclass
class RunResult:
    out: Path
    summary: dict[str, Any]
    explanations: list[EventExplanation]
    meta: dict[str, Any]


def run_explain(
    model_path: str | Path,
    table_path: str | Path,
    out: str | Path,
    n_events: int = 60,
    options: ExplainOptions | None = None,
    score: str = "probability",
    split: str = "test",
    figures: int = 6,
    threads: int = 2,
    checkpoint: str | Path | None = None,
    progress: bool = True,
    seed: int = 0,
) -> RunResult:
    """Explain ``n_events`` events of a table with a model and write everything to ``out``."""
    import torch
    from tqdm.auto import tqdm

    torch.set_num_threads(threads)
    options = options or ExplainOptions()
    out = Path(out)
    wants_ig = options.method == "ig"
    model = load_explainable(model_path, score=score, threads=threads,  # type: ignore[arg-type]
                             checkpoint=checkpoint, gradients=wants_ig)
    if options.keep_maps is False and figures > 0 and model.input_kind == "image":
        options = dataclasses.replace(options, keep_maps=True)
    table = read_table(table_path)
    if table.classes != model.classes:
        log.warning("table classes %s differ from the model's %s: labels are matched by name",
                    table.classes, model.classes)
    pool, pool_text = candidate_events(table, model, split)
    indices = choose_events(table, pool, n_events, seed)
    explainer = Explainer(model, options)
    log.info("explaining %d events (%s) of %s with %s [%s]", len(indices), pool_text, table.path,
             model.source, explainer.method)
    explanations: list[EventExplanation] = []
    examples = []
    t0 = time.perf_counter()
    with tqdm(total=len(indices), desc="explain", unit="event", disable=not progress,
              dynamic_ncols=True) as bar:
        for pos, ex in enumerate(explainer.explain(table, indices, progress=bar)):
            _relabel(ex, table, model)
            event_json = write_event(out, ex, pos).relative_to(out)
            figure = None
            if pos < figures:
                figure = _figure(ex, model, out, pos)
            ex.pixel_maps = None  # keep memory flat over long runs
            explanations.append(ex)
            if pos < max(figures, 6):
                examples.append((ex, str(event_json), figure))
    seconds = time.perf_counter() - t0
    summary = summarise(explanations, model.classes)
    meta = {
        "task": (model.info.get("config") or {}).get("task"),
        "model": {"name": model.name, "source": str(model.source), "backend": model.backend,
                  "input_kind": model.input_kind, "classes": model.classes},
        "table": str(table.path),
        "events": {"n": len(indices), "split": pool_text, "seed": seed,
                   "rows": indices.tolist()},
        "settings": options.describe(model),
        "timing": {"seconds": seconds, "seconds_per_event": seconds / max(len(indices), 1),
                   "threads": threads, "figures": min(figures, len(indices))},
    }
    if explainer.method == "ig" and model.session is not None:
        meta["torch_vs_onnx_max_abs_diff"] = explainer.agreement
    from .figures import plot_feature_summary, plot_summary

    if explanations:
        plot_summary(summary, out / "summary_kinds.png", title=f"{model.name}: {meta['task']}")
        plot_feature_summary(summary, out / "summary_features.png")
    write_summary_json(out, meta, summary)
    page = write_summary_page(out, meta, summary, examples)
    log.info("wrote %s (%d events, %.2f s/event)", page, len(explanations),
             meta["timing"]["seconds_per_event"])
    return RunResult(out=out, summary=summary, explanations=explanations, meta=meta)


def _relabel(ex: EventExplanation, table: ObjectTable, model: ExplainableModel) -> None:
    """Labels are table class names; keep them only if the model knows them."""
    if ex.label is not None and ex.label not in model.classes:
        ex.identity["table_label"] = ex.label
        ex.label = None


def _figure(ex: EventExplanation, model: ExplainableModel, out: Path, pos: int) -> str:
    from ..render.batch import FlatObjects, render_flat
    from .figures import plot_event

    path = out / "figures" / f"{event_stem(ex, pos)}.png"
    image = None
    if model.render is not None:
        n = ex.n_objects
        flat = FlatObjects(offsets=np.array([0, n], dtype=np.int64), columns=dict(ex.objects))
        image = render_flat(flat, model.render)[0][0]
    plot_event(ex, model.render, path, image)
    return str(path.relative_to(out))
