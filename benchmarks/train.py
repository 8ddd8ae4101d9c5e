"""Training and inference speed of every registry model, measured in one run.

    .venv/bin/python benchmarks/train.py [--table DIR] [--models a,b] [--threads 2]

For each model it trains through the production path (:func:`eventlens.training.loop.fit`:
gather objects → augment → C++ renderer → tensors → Adam step) for a short run
on a DTW-like synthetic table (or ``--table``), and reports from the last epoch

* training images/s and the fraction of step time spent in data loading
  (target < 10 % for the compact CNN);

then exports the run with :func:`eventlens.export.export_checkpoint` and times
inference on the same rendered batch

* torch eager (eval, no_grad) vs onnxruntime (CPU provider), interleaved,
  best of ``--rounds`` (target: onnxruntime ≥ 2× torch for the CNNs).

Sizes: each name is a ``configs/train/dtw_<name>.yaml`` whose model (registry
name + parameters) and canvas are used — the shipped compact CNN on its 32×32
canvas, ``compact_cnn_wide`` and the torchvision networks on 64×64 (5
channels); a name without such a config is a registry model with its default
parameters on 64×64.  The big torchvision networks are full size but
trained for only a few batches of 32 (their speed per image is what matters,
not convergence); InceptionV3 upsamples 64 → 75 px inside the model.  Results
are printed and written atomically to ``benchmarks/results/train.json``.  Both
frameworks use ``--threads`` threads; the machine's load average is recorded
because other processes on the same cores change the numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
log = logging.getLogger("benchmarks.train")

#: model -> (train batch size, train batches per epoch, inference batch size)
PLAN: dict[str, tuple[int, int, int]] = {
    "compact_cnn": (128, 12, 128),
    "compact_cnn_wide": (128, 12, 128),
    "ffn": (256, 20, 1024),
    "hgg_fcn": (256, 20, 1024),
    "mobilenet_v2": (32, 6, 32),
    "resnet50": (32, 4, 32),
    "densenet121": (32, 4, 32),
    "inception_v3": (32, 3, 32),
}
CNNS = (
    "compact_cnn", "compact_cnn_wide", "mobilenet_v2", "resnet50", "densenet121", "inception_v3"
)
CHANNELS = ["electron", "muon", "jet", "bjet", "met"]


def make_config(name: str, table: Path, threads: int) -> Any:
    from eventlens.config import config_dir
    from eventlens.models import model_info
    from eventlens.training.config import TrainConfig, load_config

    batch, steps, _ = PLAN[name]
    shipped = config_dir() / "train" / f"dtw_{name}.yaml"
    model: dict[str, Any] = {"name": name, "params": {}}
    canvas = {"height": 64, "width": 64}
    if shipped.exists():
        cfg = load_config(shipped)
        model = {"name": cfg.model, "params": dict(cfg.model_params)}
        if cfg.render is not None:
            canvas = {"height": cfg.render.height, "width": cfg.render.width}
    data: dict[str, Any] = {
        "task": "dtw",
        "table": str(table),
        "seed": 1,
        "threads": threads,
        "model": model,
        "limits": {"train": batch * steps, "val": 64, "test": 64},
        "training": {"epochs": 2, "batch_size": batch, "eval_batch_size": 64},
        "evaluation": {"signal": ["ttbar"]},
    }
    if model_info(model["name"]).input_kind == "image":
        data["render"] = {**canvas, "channels": CHANNELS}
    return TrainConfig.from_dict(data)


def time_inference(
    model: Any, session: Any, x: np.ndarray, rounds: int
) -> tuple[float, float, float, float]:
    """Best-of-``rounds`` images/s of torch eager and onnxruntime, interleaved;
    max |Δ logits| and max |logit| (for the relative size of the difference)."""
    import torch

    xt = torch.from_numpy(x)
    best_torch = best_ort = 0.0
    with torch.no_grad():
        ref = model(xt).numpy()
        got = session.run(["logits"], {"input": x})[0]
        for _ in range(rounds):
            t0 = time.perf_counter()
            model(xt)
            best_torch = max(best_torch, len(x) / (time.perf_counter() - t0))
            t0 = time.perf_counter()
            session.run(["logits"], {"input": x})
            best_ort = max(best_ort, len(x) / (time.perf_counter() - t0))
    return best_torch, best_ort, float(np.max(np.abs(ref - got))), float(np.max(np.abs(ref)))


def bench_model(name: str, table: Path, workdir: Path, threads: int, rounds: int) -> dict[str, Any]:
    import torch

    from eventlens.export import _onnx_session, export_checkpoint, rebuild_model
    from eventlens.training.checkpoint import load_checkpoint
    from eventlens.training.loop import fit
    from eventlens.training.setup import prepare

    cfg = make_config(name, table, threads)
    run = workdir / name
    t0 = time.perf_counter()
    fit(cfg, run, progress=False, evaluate=False)
    fit_s = time.perf_counter() - t0
    ckpt = load_checkpoint(run / "last.pt")
    last = ckpt["history"][-1]
    t0 = time.perf_counter()
    card = export_checkpoint(run / "last.pt", workdir / f"{name}.onnx", threads=threads)
    export_s = time.perf_counter() - t0

    batch = PLAN[name][2]
    setup = prepare(cfg.replace(limits={"train": None, "val": None, "test": None}))
    idx = setup.split.train[:batch]
    x = setup.maker.batch(idx)[0].contiguous().numpy()
    model = rebuild_model(ckpt)
    if setup.config.input_kind == "image":
        model = model.to(memory_format=torch.channels_last)
    session = _onnx_session(workdir / f"{name}.onnx", threads)
    torch_ips, ort_ips, diff, scale = time_inference(model, session, x, rounds)
    result = {
        "input": list(x.shape[1:]),
        "n_parameters": ckpt["model"]["n_parameters"],
        "onnx_mb": card.onnx.bytes / 1e6,
        "train": {
            "batch_size": cfg.batch_size,
            "events_per_epoch": last["train_events"],
            "images_per_s": last["train_images_per_s"],
            "data_fraction": last["data_fraction"],
            "measured": "second epoch of fit() (the first warms up the renderer and allocator)",
        },
        "inference": {
            "batch_size": batch,
            "torch_eager_images_per_s": torch_ips,
            "onnxruntime_images_per_s": ort_ips,
            "ort_over_torch": ort_ips / torch_ips if torch_ips else None,
            "max_abs_diff_logits": diff,
            "max_abs_logit": scale,
            "torch_memory_format": "channels_last"
            if setup.config.input_kind == "image"
            else "contiguous",
        },
        "export_seconds": export_s,
        "fit_seconds": fit_s,
    }
    log.info(
        "%-13s train %7.0f img/s (data %4.1f %%) | infer torch %7.0f, ORT %7.0f img/s (×%.1f) | "
        "export %.0f s, |Δ| %.1g",
        name,
        result["train"]["images_per_s"],
        100 * result["train"]["data_fraction"],
        torch_ips,
        ort_ips,
        ort_ips / torch_ips,
        export_s,
        diff,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--table", type=Path, default=None, help="a dtw object table (default: toy)")
    p.add_argument("--events", type=int, default=6000, help="toy table size")
    p.add_argument("--models", default=",".join(PLAN), help="comma-separated registry names")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5, help="inference repetitions (best of)")
    p.add_argument("-o", "--output", type=Path, default=HERE / "results" / "train.json")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("eventlens", "onnx_ir", "onnxscript"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("eventlens.export").setLevel(logging.ERROR)  # no metrics.json: expected

    import onnxruntime
    import torch

    from eventlens import __version__
    from eventlens.io import write_json
    from eventlens.training.toy import write_dtw_like_table

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="eventlens-bench-") as tmp:
        work = Path(tmp)
        table = args.table or write_dtw_like_table(work / "table", args.events, seed=0)
        for name in args.models.split(","):
            results[name] = bench_model(name, table, work / "runs", args.threads, args.rounds)
    cnn = {n: r["inference"]["ort_over_torch"] for n, r in results.items() if n in CNNS}
    out = {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "threads": args.threads,
        "table": str(args.table) if args.table else f"toy DTW-like table, {args.events} events",
        "sizes": "model and canvas of configs/train/dtw_<name>.yaml (compact_cnn 32x32x5, the "
        "others 64x64x5), full-size networks trained for a few batches; InceptionV3 upsamples "
        "64->75 px inside the model",
        "load_average_before_after": [load_before, os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "versions": {
            "eventlens": __version__,
            "torch": str(torch.__version__),
            "onnxruntime": onnxruntime.__version__,
        },
        "models": results,
        "targets": {
            "compact_cnn_data_fraction_below_0.10": results.get("compact_cnn", {})
            .get("train", {})
            .get("data_fraction", 1.0)
            < 0.10,
            "cnn_ort_at_least_2x_torch": {n: r >= 2.0 for n, r in cnn.items()},
        },
    }
    write_json(args.output, out)
    log.info("wrote %s", args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
