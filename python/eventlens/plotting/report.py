"""``eventlens plot``: every figure of an inference run, and an index page.

Reads ``inference.json`` (written by ``eventlens infer``; data only) and draws, as PNG
and PDF with file names that say what they show:

* ``mass_predicted_<class>``: the mass spectrum of each predicted class,
  simulation stacked by true process, (pseudo-)data as points with a ratio panel;
* ``confusion_raw`` / ``confusion_normalised``: true × predicted, simulation;
* ``roc``: one-vs-rest ROC curves from the score histograms;
* ``training_loss`` / ``training_accuracy``: the model's training curves, when
  its training run folder (recorded in the model card) is readable;
* ``gallery_predicted``: example events per predicted class, drawn with the
  model's render config, with a legend of the object channels;

and ``index.md`` listing every figure with the key numbers.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from ..io import atomic_path
from ..modelcard import ModelCard
from ..render import RenderConfig, render
from .gallery import plot_gallery
from .labels import mass_axis_label
from .spectra import confusion_from_hist, plot_confusion, plot_mass_per_class, plot_roc

log = logging.getLogger(__name__)


def load_inference(path: str | Path) -> dict[str, Any]:
    """The data-only ``inference.json`` of an ``eventlens infer`` folder (never unpickled)."""
    from ..pipeline.infer import INFERENCE, read_inference

    path = Path(path)
    file = path / INFERENCE if path.is_dir() else path
    if not file.exists():
        raise FileNotFoundError(f"{file}: no inference output (run `eventlens infer` first)")
    return read_inference(file)


def mass_definition(path: str | Path) -> str | None:
    """``mass_definition`` of the selection manifest next to an inference output."""
    path = Path(path)
    manifest = (path if path.is_dir() else path.parent) / "manifest.json"
    try:
        return json.loads(manifest.read_text()).get("mass_definition")
    except (OSError, ValueError, AttributeError):
        return None


def _groups(result: dict[str, Any]) -> tuple[dict[str, list[str]], list[str]]:
    """Simulation datasets grouped by process (legend entries), and the data datasets."""
    groups: dict[str, list[str]] = {}
    data = []
    for name, info in result["datasets"].items():
        if not info["simulation"]:
            data.append(name)
            continue
        process = str(info["metadata"].get("label") or info["metadata"].get("process") or name)
        groups.setdefault(process, []).append(name)
    return groups, data


def _training_curves(card: ModelCard, out: Path) -> list[Path]:
    ckpt = card.training.checkpoint
    history_file = Path(ckpt).parent / "history.json" if ckpt else None
    if history_file is None or not history_file.exists():
        log.info("no training history next to %s: training curves skipped", ckpt)
        return []
    from ..training.plots import plot_curves

    history = json.loads(history_file.read_text())
    return [
        plot_curves(history, "loss", "Loss", out / "training_loss.png", card.name),
        plot_curves(history, "accuracy", "Accuracy", out / "training_accuracy.png", card.name),
    ]


def _gallery(result: dict[str, Any], card: ModelCard, out: Path, data: bool) -> list[Path]:
    # A table model's events are drawn with the default picture.
    config = card.render_config or RenderConfig()
    examples, captions = {}, {}
    for cls, events in result["examples"].items():
        if not events:
            continue
        objects = ak.Array([e["objects"] for e in events])
        examples[cls] = render(objects, config)
        captions[cls] = [f"m = {e['mass']:.1f} GeV, p = {e['score']:.2f}" for e in events]
    if not examples:
        return []
    per_class = min(4, max(len(v) for v in examples.values()))
    return plot_gallery(
        examples,
        config,
        out / "gallery_predicted",
        per_class=per_class,
        captions=captions,
        data=data,
    )


def make_report(inference: str | Path, out: str | Path) -> Path:
    """Draw every figure of an inference run into ``out``; returns the index page."""
    result = load_inference(inference)
    card = ModelCard.from_dict(result["card"], source=f"the model card in {inference}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    groups, data = _groups(result)
    real_data = any(
        not str(result["datasets"][d]["metadata"].get("process", "")).startswith("pseudo")
        for d in data
    )
    data_label = "Data" if real_data else "Pseudo-data"
    h = result["hists"]
    figures: dict[str, list[Path]] = {}
    figures["Mass per predicted class"] = plot_mass_per_class(
        h["mass"],
        groups,
        out / "mass",
        data=data,
        data_label=data_label,
        lumi=result.get("luminosity_pb"),
        real_data=real_data,
        xlabel=mass_axis_label(result.get("task"), mass_definition(inference)),
    )
    sim = [d for ds in groups.values() for d in ds]
    cm = confusion_from_hist(h["mass"], sim) if sim else np.zeros((0, 0))
    classes = result["classes"]
    numbers: dict[str, Any] = {}
    if cm.sum() > 0:
        figures["Confusion matrices (simulation)"] = [
            *plot_confusion(cm, classes, out / "confusion_raw", normalised=False),
            *plot_confusion(cm, classes, out / "confusion_normalised", normalised=True),
        ]
        numbers["accuracy (simulation, weighted)"] = float(np.trace(cm) / cm.sum())
        roc_files, aucs = plot_roc(h["score"], out / "roc")
        figures["ROC curves (simulation)"] = roc_files
        numbers.update({f"AUC {k}": v for k, v in aucs.items()})
    figures["Training curves"] = _training_curves(card, out)
    figures["Example events per predicted class"] = _gallery(result, card, out, real_data)
    yields = h["mass"][{"truth": sum, "mass": sum}]
    for ds in h["mass"].axes["dataset"]:
        row = yields[{"dataset": ds}].values()
        numbers[f"yield {ds}"] = {c: round(float(v), 3) for c, v in zip(classes, row, strict=True)}
    return _index(out, result, card, figures, numbers)


def _index(
    out: Path,
    result: dict[str, Any],
    card: ModelCard,
    figures: dict[str, list[Path]],
    numbers: dict[str, Any],
) -> Path:
    lines = [
        f"# eventlens: {card.name} on task {result['task']}",
        "",
        f"Model `{result['model']}`, classes {', '.join(result['classes'])}.",
        "",
        "## Key numbers",
        "",
    ]
    lines += [
        f"- {k}: {v:.4f}" if isinstance(v, float) else f"- {k}: {v}" for k, v in numbers.items()
    ]
    for title, files in figures.items():
        lines += ["", f"## {title}", ""]
        if not files:
            lines.append("(not available for this run)")
        for f in files:
            if f.suffix == ".png":
                lines.append(f"![{f.stem}]({f.name})  ")
                lines.append(
                    f"`{f.name}` · [{f.with_suffix('.pdf').name}]({f.with_suffix('.pdf').name})"
                    if f.with_suffix(".pdf").exists()
                    else f"`{f.name}`"
                )
    index = out / "index.md"
    with atomic_path(index) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return index
