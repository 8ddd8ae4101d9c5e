"""Install size of eventlens' core and of each extra (issue 17).

Two measurements, one JSON (``benchmarks/results/install_size.json``):

* **closure** (always): for the core and each extra, the distributions it needs
  (``devtools/lock.py``: pyproject.toml's requirements, followed transitively through
  the installed metadata) and the bytes they occupy in *this* environment — so every
  extra's marginal cost is measured on the same installed files;
* **fresh** (``--fresh``): a new venv, ``pip install -c constraints.txt WHEEL
  onnxruntime`` (the core with the CPU build of ONNX Runtime, what ``pip install
  'eventlens[cpu]'`` gives), its size on disk (``du``), and a smoke run of
  ``load_model`` in it.  ``--keep DIR`` keeps that venv (``benchmarks/worker.py
  --python DIR/bin/python`` measures a worker in it).

    python benchmarks/install_size.py [--fresh --wheel dist/eventlens-*.whl [--keep DIR]]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devtools.lock import (  # noqa: E402
    SELF,
    closure,
    installed_bytes,
    project_requirements,
)

EXTRAS = ("gpu", "train", "generate", "condor", "stats", "dask-awkward", "dev")
MB = 1e6


def closure_sizes() -> dict[str, object]:
    """Bytes per requirement set, from the installed distributions' files."""
    sizes: dict[str, int] = {}

    def size_of(extras: tuple[str, ...]) -> tuple[int, set[str]]:
        dists = closure(project_requirements(extras))
        names = {n for n in dists if n != SELF}
        for n in names:
            if n not in sizes:
                sizes[n] = installed_bytes(dists[n])
        return sum(sizes[n] for n in names), names

    core, core_names = size_of(())
    out: dict[str, object] = {
        "core_without_onnxruntime_mb": round(core / MB, 1),
        "core_distributions": len(core_names),
    }
    gpu, _ = size_of(("gpu",))
    out["core_plus_onnxruntime_gpu_mb"] = round(gpu / MB, 1)
    marginal = {}
    for extra in EXTRAS[1:]:
        total, names = size_of(("gpu", extra))
        marginal[extra] = {"adds_mb": round((total - gpu) / MB, 1),
                           "adds_distributions": len(names) - len(core_names) - 1}
    out["extra_adds_to_core_plus_gpu"] = marginal
    everything, names = size_of(("gpu", "dev"))
    out["everything_dev_gpu_mb"] = round(everything / MB, 1)
    biggest = sorted(((sizes[n], n) for n in names), reverse=True)[:12]
    out["largest_distributions_mb"] = {n: round(b / MB, 1) for b, n in biggest}
    return out


def du_bytes(path: Path) -> int:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def fresh_install(wheel: Path, keep: Path | None) -> dict[str, object]:
    root = keep or Path(tempfile.mkdtemp(prefix="eventlens-core-"))
    if not (root / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    py = str(root / "bin" / "python")
    empty = du_bytes(root)
    t0 = time.monotonic()
    subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-c", str(REPO / "constraints.txt"), str(wheel), "onnxruntime"], check=True)
    seconds = time.monotonic() - t0
    total = du_bytes(root)
    listed = subprocess.run([py, "-m", "pip", "list", "--format=json"], capture_output=True,
                            text=True, check=True)
    packages = {p["name"].lower(): p["version"] for p in json.loads(listed.stdout)}
    smoke = subprocess.run(
        [py, "-c", "import sys, eventlens; m = eventlens.load_model('dtw_compact_cnn'); "
         "m.wrapper.session; print(sorted(k for k in ('torch', 'ROOT', 'sympy') "
         "if k in sys.modules))"],
        capture_output=True, text=True, cwd=tempfile.gettempdir(),
    )
    result = {
        "venv": str(root) if keep else "(removed)",
        "venv_mb": round(total / MB, 1),
        "venv_empty_mb": round(empty / MB, 1),
        "installed_mb": round((total - empty) / MB, 1),
        "pip_install_seconds": round(seconds, 1),
        "distributions": len(packages),
        "torch_installed": "torch" in packages,
        "onnxruntime": packages.get("onnxruntime"),
        "smoke_load_model": smoke.returncode == 0,
        "smoke_modules_loaded": smoke.stdout.strip(),
    }
    if not keep:
        subprocess.run(["rm", "-rf", str(root)], check=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fresh", action="store_true", help="also install the core afresh")
    parser.add_argument("--wheel", type=Path, help="the eventlens wheel (pip wheel . ...)")
    parser.add_argument("--keep", type=Path, help="keep the fresh venv here")
    parser.add_argument("-o", "--output", type=Path,
                        default=REPO / "benchmarks" / "results" / "install_size.json")
    args = parser.parse_args()
    result: dict[str, object] = {
        "what": "install size of eventlens' core and extras (closure: this environment's "
        "installed files; fresh: a new venv with the core + onnxruntime (CPU))",
        "python": sys.version.split()[0],
        "closure": closure_sizes(),
    }
    if args.fresh:
        if args.wheel is None:
            raise SystemExit("--fresh needs --wheel")
        result["fresh_core_cpu"] = fresh_install(args.wheel.resolve(), args.keep)
    result["load_average"] = os.getloadavg()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
