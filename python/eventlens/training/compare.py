"""The results table: per task, per model, test metrics read from the runs' ``metrics.json``.

Generated, never typed: ``eventlens compare runs/* -o docs/results.md``.  Each
task's section states its test set (events and split digest) and flags runs
whose test set differs from the others', because numbers on different events
are not comparable.

**Tune variation** (``--tune-variation TASK=TABLE``): the same models applied
to an object table selected from samples generated with *another* Pythia tune
(``eventlens make-samples TASK --tune monash``, then ``eventlens select``).
Every labelled event of that table is used (it is an independent sample: no
event of it was trained on); each run's best checkpoint is evaluated on it,
and the table gains two columns per task — the accuracy and S-vs-B efficiency
on the variation — plus the change from the nominal test set.  Results are
cached beside the variation table (``tune_variation/``, keyed by the
checkpoint's and the table's digests), so regenerating the page is cheap.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, InputFileError
from ..io import atomic_path, write_json
from ..modelcard import CARD_FORMAT
from .channels import CHANNELS

log = logging.getLogger(__name__)


def load_metrics(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """metrics.json of each run folder (or file), in the given order.

    A model card (``onnx_models/NAME.json``) stands for a shipped model whose run
    folder is not at hand: its test metrics are the ones the card recorded at
    export (the row is named after the card; no tune variation for it).
    """
    out = []
    for p in paths:
        path = Path(p)
        file = path / "metrics.json" if path.is_dir() else path
        if not file.exists():
            raise InputFileError(
                f"{file} does not exist (evaluate the run with `eventlens evaluate`)"
            )
        data = json.loads(file.read_text())
        if data.get("format") == CARD_FORMAT:
            out.append(metrics_from_card(data, file))
            continue
        data["run_dir"] = str(file.parent)  # where it is now (a run folder may be renamed)
        out.append(data)
    return out


def metrics_from_card(card: dict[str, Any], path: Path) -> dict[str, Any]:
    """The ``metrics.json`` layout of what model card ``card`` (read from ``path``) recorded."""
    metrics = card.get("metrics") or {}
    if not metrics:
        raise InputFileError(f"{path}: the model card has no test metrics (metrics = null)")
    training = card.get("training") or {}
    return {
        "task": card["task"],
        "model": card["model"],
        "notes": training.get("notes", ""),
        "run_dir": str(path.with_suffix("")),
        "card": str(path),
        "best_epoch": training.get("best_epoch"),
        "epochs_trained": training.get("epochs_trained"),
        "render_config": card.get("render_config"),
        "table_spec": card.get("table_spec"),
        "data": card.get("training_data"),
        "test_split_digest": metrics.get("test_split_digest"),
        "test": {**metrics, "classes": list(card["classes"])},
    }


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def _input(m: dict[str, Any]) -> str:
    rc = m.get("render_config")
    if rc:
        style = "RGB seed" if rc.get("style") == "seed_rgb" else f"{len(rc['channels'])} ch"
        return f"image {rc['height']}×{rc['width']} {style}"
    spec = m.get("table_spec") or {}
    slots = spec.get("slots") or {}
    # {type: n} or ordered [[type, n], ...] (both spellings of TableSpec.to_dict)
    counts = slots.values() if isinstance(slots, dict) else (n for _, n in slots)
    return f"table ({sum(counts) * len(spec.get('features') or [])} features)"


def _model(m: dict[str, Any]) -> str:
    """Run folder name, registry model and, for the compact CNN, its channel widths."""
    model = m["model"]
    name = model["name"]
    widths = (model.get("params") or {}).get("widths")
    if widths:
        name += " " + "-".join(str(w) for w in widths)
    return f"`{Path(m['run_dir']).name}` ({name})"


def targets() -> list[tuple[str, str, float]]:
    """(task, metric, minimum) of every task that sets targets (``Task.targets``)."""
    from ..processors.registry import all_tasks

    return [
        (name, key, minimum)
        for name, task in all_tasks().items()
        for key, minimum in task.targets
    ]


def _metric(m: dict[str, Any], key: str) -> float | None:
    t = m["test"]
    if key == "signal_vs_background":
        return (t.get("signal_vs_background") or {}).get("efficiency")
    return t.get(key)


_CHANNEL_TITLES = {"e": "e", "mu": "μ", "ee": "ee", "mumu": "μμ", "emu": "eμ", "3l": "≥ 3ℓ",
                   "none": "no ℓ"}


def channels_section(runs: Sequence[dict[str, Any]]) -> list[str]:
    """Per lepton channel (tasks with electrons and muons): each run's accuracy and S-vs-B
    on the test events of that channel, and each class's dilepton share."""
    have = [m for m in runs if m["test"].get("by_channel")]
    if not have:
        return []
    ref = have[0]["test"]
    names = [c for c in CHANNELS if c in ref["by_channel"]]
    counts = {c: ref["by_channel"][c] for c in names}
    shares = ", ".join(
        f"{_CHANNEL_TITLES[c]} {ch['n_events']} ({_pct(ch['share'])})" for c, ch in counts.items()
    )
    dilepton = ", ".join(f"{cls} {_pct(v)}" for cls, v in (ref.get("dilepton_share") or {}).items())
    lines = [
        "Per lepton channel (the flavours of the event's leptons above the selection's pT "
        "thresholds, as drawn in the image; `eventlens.training.channels`): "
        f"test events {shares}; share of events with two or more leptons per class: "
        f"{dilepton}.  Cells: accuracy / S-vs-B efficiency.",
        "",
        "| model | " + " | ".join(_CHANNEL_TITLES[c] for c in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for m in have:
        cells = []
        for c in names:
            ch = m["test"]["by_channel"].get(c)
            cells.append("–" if ch is None else
                         f"{_pct(ch['accuracy'])} / {_pct(ch.get('signal_vs_background'))}")
        lines.append(f"| {_model(m)} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def targets_section(by_task: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Each target with the best compact-CNN run of its task and the best run of any model."""
    lines = ["## Targets", "", "| task | metric | target | best compact CNN | best of all |",
             "|---|---|---:|---|---|"]
    for task, key, minimum in targets():
        runs = by_task.get(task, [])
        if not runs:
            continue
        cells = []
        for pool in ([m for m in runs if m["model"]["name"] == "compact_cnn"], runs):
            scored = [(v, m) for m in pool if (v := _metric(m, key)) is not None]
            if not scored:
                cells.append("–")
                continue
            v, m = max(scored, key=lambda vm: vm[0])
            verdict = "met" if v >= minimum else "not met"
            cells.append(f"{_pct(v)} `{Path(m['run_dir']).name}` ({verdict})")
        lines.append(f"| {task} | {key.replace('_', ' ')} | ≥ {_pct(minimum)} | "
                     f"{cells[0]} | {cells[1]} |")
    return [*lines, ""]


# --------------------------------------------------------------------------- tune variation


def parse_variations(specs: Sequence[str]) -> dict[str, Path]:
    """``TASK=TABLE_DIR`` items (or bare ``DIR`` holding ``DIR/TASK/manifest.json``)."""
    out: dict[str, Path] = {}
    for spec in specs:
        task, sep, folder = spec.partition("=")
        if sep:
            if not task or not folder:
                raise ConfigError(f"--tune-variation {spec!r}: expected TASK=TABLE_DIR")
            out[task] = Path(folder)
            continue
        root = Path(spec)
        found = sorted(p.parent for p in root.glob("*/manifest.json"))
        if (root / "manifest.json").exists() or not found:
            raise ConfigError(
                f"--tune-variation {spec}: give TASK={spec} for one object table, or a folder "
                "holding one table per task (DIR/TASK/manifest.json)"
            )
        out.update({p.name: p for p in found})
    return out


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def variation_info(table: Path) -> dict[str, Any]:
    """What the variation table is: task, tunes and pileup of its samples, rows."""
    manifest_path = table / "manifest.json"
    if not manifest_path.exists():
        raise InputFileError(f"{table}: no manifest.json (not an `eventlens select` output)")
    manifest = json.loads(manifest_path.read_text())
    metas = [d.get("metadata") or {} for d in (manifest.get("datasets") or {}).values()]
    return {
        "table": str(table),
        "task": manifest.get("task"),
        "tunes": sorted({str(m.get("tune")) for m in metas if m.get("tune")}),
        "pileup": sorted({float(m.get("pileup_mu") or 0.0) for m in metas}),
        "manifest_digest": _digest(manifest_path),
    }


def evaluate_on_table(run_dir: Path, table: Path) -> dict[str, Any]:
    """Test metrics of ``run_dir``'s best checkpoint on every labelled event of ``table``.

    Cached in ``table/tune_variation/<run>-<checkpoint digest>-<manifest digest>.json``.
    """
    from .checkpoint import BEST, load_checkpoint

    info = variation_info(table)
    checkpoint = run_dir / BEST
    if not checkpoint.exists():
        raise InputFileError(f"{checkpoint} does not exist: the tune variation needs the run's "
                             "best checkpoint")
    cache = (table / "tune_variation"
             / f"{run_dir.name}-{_digest(checkpoint)}-{info['manifest_digest']}.json")
    if cache.exists():
        return dict(json.loads(cache.read_text()))
    from .config import TrainConfig
    from .metrics import classification_metrics
    from .setup import predict, prepare
    from .table import read_table

    ckpt = load_checkpoint(checkpoint)
    config = TrainConfig.from_dict(ckpt["config"])
    data = read_table(table)
    if list(data.classes) != list(ckpt["classes"]):
        raise ConfigError(
            f"{table}: classes {list(data.classes)} differ from the run's {list(ckpt['classes'])} "
            f"({run_dir}); select the variation samples with the run's task config"
        )
    setup = prepare(config, table=data)  # checks the task; builds the model and its inputs
    setup.model.load_state_dict(ckpt["state_dict"])
    labelled = np.flatnonzero(data.label >= 0)
    logits = predict(setup.model, setup.maker, labelled, config.eval_batch_size)
    test = classification_metrics(data.label[labelled], logits, setup.classes, config.signal)
    result = {"run": run_dir.name, "checkpoint_digest": _digest(checkpoint), **info,
              "test": {k: test.get(k) for k in ("n_events", "accuracy", "balanced_accuracy",
                                                 "macro_f1", "macro_auc")},
              "signal_vs_background": test.get("signal_vs_background")}
    write_json(cache, result)
    log.info("%s on %s (%s): accuracy %s", run_dir.name, table, ", ".join(info["tunes"]),
             _pct(result["test"]["accuracy"]))
    return result


def _sample_tune(m: dict[str, Any]) -> str | None:
    """The tune of a run's training samples, if its table's manifest recorded one."""
    samples = (m.get("data") or {}).get("samples") or {}
    for entry in samples.values():
        tune = ((entry or {}).get("metadata") or {}).get("tune")
        if tune:
            return str(tune)
    return None


def _variation_metric(v: dict[str, Any], key: str) -> float | None:
    if key == "signal_vs_background":
        return (v.get("signal_vs_background") or {}).get("efficiency")
    return v["test"].get(key)


def _delta(new: float | None, old: float | None) -> str:
    if new is None or old is None:
        return "–"
    return f"{100 * (new - old):+.1f}"


def results_table(
    metrics: Sequence[dict[str, Any]],
    command: str = "",
    variations: dict[str, dict[str, Any]] | None = None,
) -> str:
    """Markdown: one section per task, one row per run, best accuracy first."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for m in metrics:
        by_task.setdefault(m["task"], []).append(m)
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Results",
        "",
        f"Generated by `{command or 'eventlens compare'}` on {now} from each run's "
        "`metrics.json` — do not edit by hand.",
        "Test split: 10 % of the labelled events, chosen by a hash of (dataset, run, lumi, event); "
        "S-vs-B efficiency: seed 002's signal-vs-background efficiency with a 50/50 split "
        "(½ ε_S + ½ (1 − ε_B), see `eventlens.training.metrics`).",
        "",
    ]
    variations = variations or {}
    for task in sorted(by_task):
        runs = sorted(by_task[task], key=lambda m: -(m["test"].get("accuracy") or 0.0))
        digests = {m.get("test_split_digest") for m in runs}
        var = {m["run_dir"]: variations[m["run_dir"]] for m in runs if m["run_dir"] in variations}
        ref = runs[0]
        n = ref["test"]["n_events"]
        signal = (ref["test"].get("signal_vs_background") or {}).get("signal")
        lines += [f"## {task}", ""]
        lines.append(
            f"Classes: {', '.join(ref['test']['classes'])}"
            + (f"; signal: {', '.join(signal)}" if signal else "")
            + ".  "
            f"Test set: {n} events, split digest `{ref.get('test_split_digest')}`."
        )
        if len(digests) > 1:
            lines.append("")
            lines.append(
                "**Warning: these runs were evaluated on different test sets** "
                f"(digests {sorted(str(d) for d in digests)}); do not compare them."
            )
        if var:
            first = next(iter(var.values()))
            tunes = ", ".join(first["tunes"]) or "unrecorded"
            pileup = ", ".join(f"{mu:g}" for mu in first["pileup"])
            lines += [
                "",
                f"Tune variation: the same models on `{first['table']}` (samples generated with "
                f"tune {tunes}, pileup μ = {pileup}): {first['test']['n_events']} labelled events, "
                "all of them (an independent sample); Δ = variation − nominal, in points.",
            ]
        head = ("| model | input | params | epochs (best) | accuracy | balanced acc. | macro F1 | "
                "macro AUC | S-vs-B eff. |")
        rule = "|---|---|---:|---:|---:|---:|---:|---:|---:|"
        if var:
            head += " tune var. acc. (Δ) | tune var. S-vs-B (Δ) |"
            rule += "---:|---:|"
        lines += ["", head + " notes |", rule + "---|"]
        for m in runs:
            t = m["test"]
            svb = _metric(m, "signal_vs_background")
            auc = "–" if t.get("macro_auc") is None else f"{t['macro_auc']:.4f}"
            row = (
                f"| {_model(m)} | {_input(m)} | {m['model'].get('n_parameters', 0) / 1e6:.2f} M | "
                f"{m.get('epochs_trained')} ({m.get('best_epoch')}) | {_pct(t.get('accuracy'))} | "
                f"{_pct(t.get('balanced_accuracy'))} | {_pct(t.get('macro_f1'))} | {auc} | "
                f"{_pct(svb)} |"
            )
            if var:
                v = var.get(m["run_dir"])
                if v is None:
                    row += " – | – |"
                else:
                    acc, vsvb = _variation_metric(v, "accuracy"), _variation_metric(
                        v, "signal_vs_background")
                    row += (f" {_pct(acc)} ({_delta(acc, t.get('accuracy'))}) | "
                            f"{_pct(vsvb)} ({_delta(vsvb, svb)}) |")
            lines.append(f"{row} {(m.get('notes') or '').strip()} |")
        lines.append("")
        lines += channels_section(runs)
    lines += targets_section(by_task)
    return "\n".join(lines)


def write_results(
    paths: Sequence[str | Path],
    output: str | Path,
    command: str = "",
    tune_variations: dict[str, Path] | None = None,
) -> Path:
    """Write the results table for runs ``paths`` to ``output`` (atomically).

    ``tune_variations``: task → object table of the tune-variation samples;
    every run of that task is evaluated on it (see the module docstring).
    """
    metrics = load_metrics(paths)
    variations: dict[str, dict[str, Any]] = {}
    for task, table in (tune_variations or {}).items():
        runs = [m for m in metrics if m["task"] == task]
        if not runs:
            tasks = ", ".join(sorted({m["task"] for m in metrics}))
            raise ConfigError(f"--tune-variation {task}={table}: none of the runs is of task "
                              f"{task!r} (they are: {tasks})")
        info = variation_info(Path(table))
        if info["task"] != task:
            raise ConfigError(f"--tune-variation {task}={table}: that table is for task "
                              f"{info['task']!r}")
        nominal = {tune for m in runs if (tune := _sample_tune(m))}
        if nominal and set(info["tunes"]) <= nominal:
            log.warning("--tune-variation %s: the table's tune(s) %s are the runs' own tune(s)",
                        task, info["tunes"])
        for m in runs:
            if m.get("card"):
                log.info("--tune-variation %s: %s is a model card (no checkpoint), left out",
                         task, m["card"])
                continue
            variations[m["run_dir"]] = evaluate_on_table(Path(m["run_dir"]), Path(table))
    text = results_table(metrics, command, variations)
    with atomic_path(output) as tmp:
        tmp.write_text(text)
    log.info("wrote %s (%d runs)", output, len(paths))
    return Path(output)
