"""What sharing the nominal pass's object steps saves the shape variations (processors.reuse).

On one generated tt̄ file (``--input``; pileup as the shipped models), with
coffea's IterativeExecutor on one core, best CPU time of ``--repeat``:

* ``nominal``    -- ``InferenceProcessor`` without shape variations;
* ``shared``     -- with every shape variation, the shifted passes reusing the
                    object steps of the collections they leave unchanged;
* ``unshared``   -- the same with the sharing switched off (every shifted pass
                    recomputes everything, as before ``processors.reuse``);

at each chunk size of ``--chunksizes`` (a large chunk, and 200-event chunks
as a fileset of many small NanoAOD files gives).  Saved:
``benchmarks/results/chunk_reuse.json`` (CPU seconds and the ratios to the
nominal pass, measured in the same run).

    .venv/bin/python benchmarks/chunk_reuse.py --input runs/bench/ttbar_pu37.root
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from eventlens.io import write_json
from eventlens.resources import models_dir

HERE = Path(__file__).resolve().parent
log = logging.getLogger("benchmarks.chunk_reuse")


def best_cpu(fn: Callable[[], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        c0 = time.process_time()
        fn()
        best = min(best, time.process_time() - c0)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=models_dir() / "dtw_compact_cnn.onnx")
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--chunksizes", default="8000,200")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "-o", "--output", type=Path, default=HERE / "results" / "chunk_reuse.json"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from coffea import processor
    from coffea.nanoevents import NanoAODSchema

    from eventlens.modelcard import load_model_card
    from eventlens.processors import base
    from eventlens.processors.inference import InferenceProcessor
    from eventlens.processors.registry import get_task, load_config

    card = load_model_card(args.model)
    spec = get_task(card.task)
    cfg = load_config(spec.name, None, None)
    fileset = {
        "ttbar": {"files": {str(args.input): "Events"}, "metadata": {"process": "ttbar"}}
    }

    def run(shapes: bool, chunksize: int) -> None:
        proc = InferenceProcessor(spec, cfg, args.model, card, threads=1, shapes=shapes)
        runner = processor.Runner(
            executor=processor.IterativeExecutor(status=False),
            schema=NanoAODSchema,
            chunksize=chunksize,
        )
        out = runner(fileset, proc, treename="Events")
        if out.get("failures"):
            raise SystemExit(f"benchmarks/chunk_reuse.py: {sorted(out['failures'])[0][-1]}")

    results = {}
    sharing = base.within_chunk
    for chunksize in (int(c) for c in args.chunksizes.split(",")):
        run(False, chunksize)  # warm-up: imports, session
        nominal = best_cpu(lambda c=chunksize: run(False, c), args.repeat)
        shared = best_cpu(lambda c=chunksize: run(True, c), args.repeat)
        base.within_chunk = contextlib.nullcontext
        try:
            unshared = best_cpu(lambda c=chunksize: run(True, c), args.repeat)
        finally:
            base.within_chunk = sharing
        results[str(chunksize)] = {
            "nominal_cpu_s": round(nominal, 3),
            "all_variations_shared_cpu_s": round(shared, 3),
            "all_variations_unshared_cpu_s": round(unshared, 3),
            "shared_over_nominal": round(shared / nominal, 2),
            "unshared_over_nominal": round(unshared / nominal, 2),
            "saved_fraction": round(1 - shared / unshared, 3),
        }
        log.info("chunks of %d events: %s", chunksize, results[str(chunksize)])
    write_json(
        args.output,
        {
            "setup": {
                "input": str(args.input),
                "model": str(args.model),
                "repeat": args.repeat,
                "load_average": list(os.getloadavg()),
                "threads": 1,
            },
            "results": results,
        },
    )
    log.info("wrote %s", args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
