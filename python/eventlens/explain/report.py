"""Write an explanation run: per-event JSON, figures, ``summary.json`` and ``summary.md``.

Layout of the output folder::

    summary.md              the page to read: drivers per class, sanity statements, examples
    summary.json            run settings + the dataset-level summary (numbers behind the page)
    summary_kinds.png       mean attribution per object kind, per class
    summary_features.png    top features per class (table models)
    events/NNNNN.json       one record per explained event (see EventExplanation.to_json)
    figures/NNNNN.png       overlays of the first events

Every file is written atomically (a crash never leaves a half-written file).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io import atomic_path, write_json
from .event import EventExplanation
from .naming import KIND_LABELS, class_label, signed
from .summary import sanity_statements


def event_stem(ex: EventExplanation, position: int) -> str:
    """``00012_r1_e345``: position in the run, then run and event numbers."""
    return f"{position:05d}_r{ex.identity.get('run', 0)}_e{ex.identity.get('event', 0)}"


def write_event(out: Path, ex: EventExplanation, position: int) -> Path:
    path = out / "events" / f"{event_stem(ex, position)}.json"
    write_json(path, ex.to_json())
    return path


def _kinds_table(summary: dict[str, Any]) -> list[str]:
    classes = summary["classes"]
    kinds = [k for k in summary["kinds"]
             if any(summary["per_class"][c]["kinds"][k]["n_objects"] for c in classes)]
    head = "| object kind | " + " | ".join(
        f"towards {class_label(c)} in {class_label(c)} events" for c in classes) + " |"
    lines = [head, "|---|" + "---|" * len(classes)]
    for k in kinds:
        cells = []
        for c in classes:
            v = summary["per_class"][c]["kinds"][k]
            cells.append(f"{signed(v['mean'], 3)} (abs {v['mean_abs']:.3f}, "
                         f"{100 * v['share']:.0f} %, in {100 * v['presence']:.0f} % of events)")
        lines.append(f"| {KIND_LABELS.get(k, k)} | " + " | ".join(cells) + " |")
    lines.append("| **driver** | " + " | ".join(
        f"**{KIND_LABELS.get(summary['per_class'][c]['driver'] or '', '—')}**"
        for c in classes) + " |")
    return lines


def _matrix(summary: dict[str, Any]) -> list[str]:
    classes = summary["classes"]
    kinds = [k for k in summary["kinds"]
             if any(summary["per_class"][c]["kinds"][k]["n_objects"] for c in classes)]
    lines = ["| events of | towards | " + " | ".join(KIND_LABELS.get(k, k) for k in kinds) + " |",
             "|---|---|" + "---|" * len(kinds)]
    for true in classes:
        for target in classes:
            row = summary["matrix_mean"][true][target]
            lines.append(f"| {class_label(true)} | {class_label(target)} | "
                         + " | ".join(signed(row[k], 3) for k in kinds) + " |")
    return lines


def _features(summary: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for c in summary["classes"]:
        table = summary["per_class"][c]["features"]
        if not table:
            continue
        lines += [f"**{class_label(c)}** (events of the class, towards it):", "",
                  "| feature | mean \\|attr\\| | mean attr | mean value (σ) |", "|---|---|---|---|"]
        for t in table["top"]:
            sigma = "—" if t["mean_sigma"] is None else signed(t["mean_sigma"])
            lines.append(f"| {t['feature']} | {t['mean_abs']:.4f} | {signed(t['mean'], 4)} "
                         f"| {sigma} |")
        lines.append("")
    return lines


def write_summary_page(out: Path, meta: dict[str, Any], summary: dict[str, Any],
                       examples: Sequence[tuple[EventExplanation, str, str | None]]) -> Path:
    """``summary.md``: the human-readable page (see the module docstring)."""
    m = meta["model"]
    s = meta["settings"]
    comp = summary["completeness"]
    lines = [
        f"# Why does {m['name']} decide what it decides? ({meta['task'] or 'task ?'})",
        "",
        f"Model `{m['source']}` ({m['backend']}, {m['input_kind']} input, classes "
        f"{', '.join(class_label(c) for c in m['classes'])}); table `{meta['table']}`; "
        f"{summary['n_events']} events ({meta['events']['split']}).",
        "",
        f"Method: **{s['method']}**, score = {s['score']}; baseline: {s['baseline']}. "
        + ", ".join(f"{k} = {v}" for k, v in s.items()
                    if k not in ("method", "score", "baseline")) + ".",
        "",
        f"Completeness: Σ object attributions + unassigned = score − baseline score + residual; "
        f"max |residual| = {comp['max_abs_residual']:.2e}, "
        f"median {comp['median_abs_residual']:.2e} "
        f"(largest score change {comp['max_abs_score_change']:.3f}). "
        f"Time: {meta['timing']['seconds_per_event']:.3f} s per event "
        f"({meta['timing']['threads']} threads).",
        "",
        "Reference: the baseline scores "
        + ", ".join(f"{class_label(c)} {v:.3f}" for c, v in summary["baseline_scores_mean"].items()
                    if v is not None)
        + " (mean over events); every attribution is a change from these.",
        "",
        "## Which objects drive each class",
        "",
        "Mean attribution per event of each object kind towards the class, in that class's "
        "events (abs: mean absolute value; %: share of the total absolute attribution; "
        "in: events that have the kind).",
        "",
        *_kinds_table(summary),
        "",
        "![per-kind attributions](summary_kinds.png)",
        "",
        "## Sanity statements (generated from the numbers above)",
        "",
        *[f"- {t}" for t in sanity_statements(summary)],
        "",
        "## All classes × all classes",
        "",
        "Mean attribution per event of each kind, for events of one class towards every class "
        "(negative: pushes the events away from that class).",
        "",
        *_matrix(summary),
        "",
    ]
    feats = _features(summary)
    if feats:
        lines += ["## Features (σ units of the training set)", "", *feats,
                  "![top features](summary_features.png)", ""]
    lines += ["## Example events", ""]
    for ex, event_json, figure in examples:
        lines.append(f"- [{event_json}]({event_json}): {ex.text()}")
        if figure:
            lines.append(f"  ![event]({figure})")
    path = out / "summary.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


def write_summary_json(out: Path, meta: dict[str, Any], summary: dict[str, Any]) -> Path:
    path = out / "summary.json"
    write_json(path, {**meta, "summary": summary,
                      "sanity_statements": sanity_statements(summary)})
    return path
