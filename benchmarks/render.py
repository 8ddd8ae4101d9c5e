"""Event-image rendering speed: every path on the same events, in one run.

Paths: the C++ batch entry point (uint8 and float32 at 64×64×6, the seed's RGB
224×224×3), the C++ per-event entry point driven by RDataFrame (zero-copy into
a reused numpy buffer, single thread), the numpy reference renderer, and a
seed-style matplotlib renderer that draws circles and saves a PNG, as the papers
did.  Everything runs on one core, so events/s are per core.  Ratios are taken
within the run (the machine is shared and noisy); each timing is the best of
``--repeat`` runs.

    .venv/bin/python benchmarks/render.py [--events 100000]

Prints a table and writes benchmarks/results/render.json.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np

from eventlens.io import atomic_path, write_json
from eventlens.objects import ObjectType, make_objects
from eventlens.render import RenderConfig, allocate, flatten_objects, render_flat
from eventlens.render.reference import render_reference

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent.parent / "shared" / "data" / "nanoaod" / "nano_tt_v12.root"
log = logging.getLogger("benchmarks.render")

BRANCHES = {
    "Electron": ("pt", "eta", "phi"),
    "Muon": ("pt", "eta", "phi", "charge"),
    "Photon": ("pt", "eta", "phi"),
    "Jet": ("pt", "eta", "phi", "btagDeepFlavB"),
}
CODES = {
    "Electron": ObjectType.ELECTRON,
    "Muon": ObjectType.MUON,
    "Photon": ObjectType.PHOTON,
    "Jet": ObjectType.JET,
}


def bench_file(n_events: int) -> Path:
    """A NanoAOD-like TTree of ``n_events`` real tt̄ events (nano_tt_v12 repeated), cached."""
    import uproot

    path = HERE / "data" / f"render_tt_{n_events}.root"
    if path.exists():
        return path
    if not SOURCE.exists():
        raise SystemExit(f"need the real CMS NanoAOD sample {SOURCE} to build the benchmark file")
    src = uproot.open(SOURCE)["Events"]
    present = set(src.keys())
    data: dict[str, ak.Array] = {}
    for coll, fields in BRANCHES.items():
        if f"{coll}_pt" in present:
            arrays = src.arrays([f"{coll}_{f}" for f in fields])
            data[coll] = ak.zip({f: arrays[f"{coll}_{f}"] for f in fields})
    met = src.arrays(["MET_pt", "MET_phi"])
    data["MET_pt"], data["MET_phi"] = met["MET_pt"], met["MET_phi"]
    reps = -(-n_events // src.num_entries)
    with atomic_path(path) as tmp, uproot.recreate(tmp) as f:
        # mktree + extend writes a TTree (f["Events"] = dict would write an RNTuple)
        f.mktree("Events", {k: v.type.content for k, v in data.items()})
        for _ in range(reps):
            f["Events"].extend(data)
    return path


def load_objects(path: Path, n_events: int) -> ak.Array:
    """Canonical object lists (e, μ, γ, jets, MET) of the first n events."""
    import uproot

    arrays = uproot.open(path)["Events"].arrays(entry_stop=n_events)
    parts = []
    for coll, code in CODES.items():
        if coll in arrays.fields:
            c = arrays[coll]
            parts.append(
                make_objects(
                    ak.full_like(c.pt, int(code), dtype=np.int32),
                    c.pt,
                    c.eta,
                    c.phi,
                    charge=c.charge if "charge" in c.fields else None,
                    btag=c.btagDeepFlavB if "btagDeepFlavB" in c.fields else None,
                )
            )
    met_pt = ak.unflatten(arrays.MET_pt, 1)
    parts.append(
        make_objects(
            ak.full_like(met_pt, int(ObjectType.MET), dtype=np.int32),
            met_pt,
            ak.zeros_like(met_pt),
            ak.unflatten(arrays.MET_phi, 1),
        )
    )
    return ak.concatenate(parts, axis=1)


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def batch_rate(objects: ak.Array, config: RenderConfig, chunk: int, repeat: int) -> float:
    """Events/s of flatten + C++ batch render, chunk by chunk into one reused buffer."""
    buf = allocate(config, chunk)
    n = len(objects)
    render_flat(flatten_objects(objects[:chunk]), config, buf)  # build renderer, touch pages

    def run() -> None:
        for start in range(0, n - chunk + 1, chunk):
            render_flat(flatten_objects(objects[start : start + chunk]), config, buf)

    return (n // chunk) * chunk / best_of(run, repeat)


def rdf_rate(path: Path, config: RenderConfig, chunk: int, repeat: int) -> tuple[float, float]:
    """Events/s of RDataFrame + the per-event C++ entry point (zero-copy), one thread.

    Returns (steady-state rate, first event loop's seconds including cling JIT).
    """
    from eventlens._root import root
    from eventlens.render.rdf import render_dataframe

    ROOT = root()
    ROOT.DisableImplicitMT()
    buf = allocate(config, chunk)
    t0 = time.perf_counter()
    render_dataframe(ROOT.RDataFrame("Events", str(path)).Range(chunk), config, chunk, out=buf)
    first = time.perf_counter() - t0
    df = ROOT.RDataFrame("Events", str(path)).Range(chunk)
    seconds = best_of(lambda: render_dataframe(df, config, chunk, out=buf), repeat)
    return chunk / seconds, first


def matplotlib_rate(objects: ak.Array, n: int) -> float:
    """The papers' way: matplotlib circles on a 224×224 canvas, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse

    colours = {0: "blue", 1: "green", 2: "orange", 3: "#ff8080", 4: "black"}
    c = 10.5  # seed 002 §5.2, pixels per ln(GeV) on 224 px
    events = objects[:n].to_list()
    t0 = time.perf_counter()
    for event in events:
        fig = plt.figure(figsize=(2.24, 2.24), dpi=100)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(-3, 3)
        ax.set_ylim(-np.pi, np.pi)
        ax.axis("off")
        for o in event:
            r_px = max(c * np.log(max(o["pt"], 1e-3)), 1.0)
            colour = "darkred" if o["type"] == 3 and o["btag"] >= 0.2783 else colours[o["type"]]
            eta = 0.0 if o["type"] == 4 else o["eta"]
            ax.add_patch(
                Ellipse(
                    (eta, o["phi"]),
                    2 * r_px * 6 / 224,
                    2 * r_px * 2 * np.pi / 224,
                    fill=False,
                    edgecolor=colour,
                    linewidth=1,
                )
            )
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference-events", type=int, default=300)
    parser.add_argument("--matplotlib-events", type=int, default=100)
    parser.add_argument("-o", "--output", type=Path, default=HERE / "results" / "render.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    path = bench_file(args.events)
    objects = load_objects(path, args.events)
    n_obj = int(ak.sum(ak.num(objects)))
    log.info(
        "%d events, %.1f objects/event (real tt̄ NanoAOD, repeated), %s",
        len(objects),
        n_obj / len(objects),
        path.name,
    )
    u8 = RenderConfig(dtype="uint8")
    f32 = RenderConfig(dtype="float32")
    seed = RenderConfig.seed_rgb()
    rates: dict[str, float] = {}
    rates["batch_u8_64x64x6"] = batch_rate(objects, u8, args.chunk, args.repeat)
    rates["batch_f32_64x64x6"] = batch_rate(objects, f32, args.chunk, args.repeat)
    rates["batch_seed_rgb_224x224x3"] = batch_rate(
        objects[: args.chunk * 2], seed, args.chunk // 10, args.repeat
    )
    rates["rdataframe_u8_64x64x6"], first_loop = rdf_rate(path, u8, args.chunk, args.repeat)
    ref = objects[: args.reference_events]
    rates["numpy_reference_u8_64x64x6"] = args.reference_events / best_of(
        lambda: render_reference(ref, u8), 1
    )
    rates["matplotlib_png_seed_224"] = matplotlib_rate(objects, args.matplotlib_events)

    result = {
        "events_per_second_per_core": rates,
        "ratios": {
            "batch_u8_over_matplotlib": rates["batch_u8_64x64x6"]
            / rates["matplotlib_png_seed_224"],
            "batch_seed_rgb_over_matplotlib": rates["batch_seed_rgb_224x224x3"]
            / rates["matplotlib_png_seed_224"],
            "batch_u8_over_numpy_reference": rates["batch_u8_64x64x6"]
            / rates["numpy_reference_u8_64x64x6"],
            "rdataframe_over_batch_u8": rates["rdataframe_u8_64x64x6"] / rates["batch_u8_64x64x6"],
        },
        "targets": {"batch_u8_64x64x6_min": 100_000, "batch_over_matplotlib_min": 1000},
        "rdataframe_first_loop_seconds_incl_jit": first_loop,
        "setup": {
            "events": len(objects),
            "objects_per_event": n_obj / len(objects),
            "chunk": args.chunk,
            "repeat": args.repeat,
            "threads": 1,
            "machine": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
    }
    result["targets_met"] = {
        "batch_u8_64x64x6": rates["batch_u8_64x64x6"] >= 100_000,
        "batch_over_matplotlib": result["ratios"]["batch_u8_over_matplotlib"] >= 1000,
    }
    for name, rate in rates.items():
        log.info("%-32s %12.0f events/s", name, rate)
    for name, ratio in result["ratios"].items():
        log.info("%-32s %12.1f x", name, ratio)
    write_json(args.output, result)
    log.info("wrote %s", args.output)


if __name__ == "__main__":
    main()
