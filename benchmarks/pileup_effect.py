"""The effect of pileup on a task's model: trained without / with pileup, tested on both.

Issue 18 asks what pileup does to the shipped DTW model: trained without pileup
and tested with it, then trained and tested with it.  Given two runs of the same
task and config family — one trained on a table selected from samples without
pileup, one on a table with pileup — every run is evaluated (best checkpoint) on
the *test split* of every table.  All configs of a task share the split salt,
so a table's test split is the same events whichever run is evaluated, and the
run trained on that table never saw them; the other run never saw any event of
that table.  Reported per (run, table): accuracy, S-vs-B efficiency and, for
tasks with electrons and muons, the per-lepton-channel numbers.

    .venv/bin/python benchmarks/pileup_effect.py RUN_NO_PU RUN_PU \
        [-o benchmarks/results/dtw_pileup_effect.json]

The tables are the runs' own (their checkpoints record them).
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].rstrip("/").endswith("benchmarks"):
    del sys.path[0]

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from eventlens.io import write_json
from eventlens.training.checkpoint import BEST, load_checkpoint
from eventlens.training.config import TrainConfig
from eventlens.training.evaluate import channel_metrics
from eventlens.training.metrics import classification_metrics
from eventlens.training.setup import predict, prepare
from eventlens.training.table import read_table

HERE = Path(__file__).resolve().parent
log = logging.getLogger("benchmarks.pileup_effect")


def table_pileup(table: Path) -> list[float]:
    """The distinct pileup means the table's samples were generated with."""
    manifest = json.loads((table / "manifest.json").read_text())
    metas = [d.get("metadata") or {} for d in manifest["datasets"].values()]
    return sorted({float(m.get("pileup_mu") or 0.0) for m in metas})


def evaluate(run: Path, table: Path) -> dict[str, Any]:
    """``run``'s best checkpoint on the test split of ``table``."""
    ckpt = load_checkpoint(run / BEST)
    config = TrainConfig.from_dict(ckpt["config"])
    data = read_table(table)
    if list(data.classes) != list(ckpt["classes"]):
        raise SystemExit(f"{table}: classes {data.classes} are not the run's {ckpt['classes']}")
    setup = prepare(config, table=data)
    setup.model.load_state_dict(ckpt["state_dict"])
    idx = setup.split.test
    logits = predict(setup.model, setup.maker, idx, config.eval_batch_size)
    labels = data.label[idx]
    test = classification_metrics(labels, logits, setup.classes, config.signal)
    channels = channel_metrics(data, idx, labels, logits, setup.classes, config.signal)
    own = Path(ckpt["data"]["table"]).resolve() == table.resolve()
    return {
        "run": str(run),
        "table": str(table),
        "trained_on_this_table": own,
        "table_pileup_mu": table_pileup(table),
        "test_split_digest": setup.split.digests["test"],
        "n_events": test["n_events"],
        "accuracy": test["accuracy"],
        "signal_vs_background": (test.get("signal_vs_background") or {}).get("efficiency"),
        "macro_auc": test["macro_auc"],
        **channels,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run folders (best.pt)")
    parser.add_argument("-o", "--output", type=Path,
                        default=HERE / "results" / "dtw_pileup_effect.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    tables = []
    for run in args.runs:
        table = Path(load_checkpoint(run / BEST)["data"]["table"])
        if table not in tables:
            tables.append(table)
    rows = [evaluate(run, table) for run in args.runs for table in tables]
    log.info("%-32s %-28s %8s %7s %9s %8s", "run", "table", "pileup", "events", "accuracy",
             "S-vs-B")
    for r in rows:
        log.info("%-32s %-28s %8s %7d %8.2f%% %7.2f%%%s", Path(r["run"]).name, r["table"],
                 ",".join(f"{mu:g}" for mu in r["table_pileup_mu"]), r["n_events"],
                 100 * r["accuracy"], 100 * r["signal_vs_background"],
                 "  (own test split)" if r["trained_on_this_table"] else "")
    write_json(args.output, {"command": " ".join(sys.argv), "results": rows,
                             "note": "test split of each table (the same events for every "
                                     "run: shared split salt); event counts, not weights"})
    log.info("wrote %s", args.output)


if __name__ == "__main__":
    main()
