"""The built wheel works outside the repository (issue 17, package data).

The wheel is built from this checkout (``pip wheel . --no-deps --no-build-isolation``)
and installed, non-editable, into a fresh venv.  The heavy dependencies are reused from
the environment running the tests (a ``.pth`` naming its site-packages, as
``/work/wt/setup.sh`` does), but eventlens itself — code, processors, C++ library,
configs, models and cards — comes from the wheel alone.  From a folder outside the
repository, ``load_model("dtw_compact_cnn")`` and ``eventlens infer`` run on a real
NanoAOD file and give the checkout's numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MODEL = "dtw_compact_cnn"

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-q", "-w", str(dist),
         "--config-settings=cmake.define.EVENTLENS_WERROR=ON"],
        cwd=REPO,
    )
    (found,) = dist.glob("eventlens-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed (non-editable) and the test environment's
    dependencies visible through a .pth file (eventlens is not among them: the .pth
    paths come after the venv's own site-packages, and an editable install's finder
    hook, itself a .pth, is not run from them)."""
    root = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", str(root)], cwd=root)
    (site,) = root.glob("lib/python*/site-packages")
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "_test_deps.pth").write_text("\n".join(deps) + "\n")
    run([str(root / "bin" / "python"), "-m", "pip", "install", "--no-deps", "-q",
         "--disable-pip-version-check", str(wheel)], cwd=root)
    return root


@pytest.fixture
def outside(tmp_path) -> tuple[Path, dict[str, str]]:
    """A working folder outside the repository and an environment without PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EVENTLENS_CONFIG_DIR")}
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder, env


def test_wheel_carries_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (
        f"eventlens/data/onnx_models/{MODEL}.onnx",
        f"eventlens/data/onnx_models/{MODEL}.json",
        "eventlens/data/configs/selection/dtw.yaml",
        "eventlens/data/configs/processes.yaml",
        "eventlens/data/configs/condor.yaml",
        "eventlens/data/condor/eventlens.sub.in",
        "eventlens/data/condor/job.sh",
        "eventlens/processors/dtw.py",
        "eventlens/lib/libeventlens.so",
        "eventlens/include/eventlens/render.h",
    ):
        assert name in names, name
    # development tooling and repository files stay out
    assert not any(n.startswith(("devtools/", "tests/", "eventlens/data/cpp")) for n in names)
    assert not any("condor-pool" in n or n.endswith("pool.sh") for n in names)


def test_load_model_outside_the_repository(venv, outside, nanoaod_dir):
    from eventlens.classifier import load_model
    from eventlens.nanoaod import open_events

    folder, env = outside
    sample = nanoaod_dir / "nano_tt_v12.root"
    out = folder / "p.npy"
    code = (
        "import json, sys, numpy as np, eventlens, eventlens.resources as r\n"
        "from eventlens.nanoaod import open_events\n"
        f"m = eventlens.load_model({MODEL!r})\n"
        f"np.save({str(out)!r}, m.predict_proba(open_events({str(sample)!r})))\n"
        "print(json.dumps({'file': eventlens.__file__, 'checkout': str(r.source_checkout()),\n"
        "  'models': str(r.models_dir()), 'model': m.path, 'configs': str(r.config_dir()),\n"
        "  'torch': 'torch' in sys.modules}))\n"
    )
    info = json.loads(run([str(venv / "bin" / "python"), "-c", code], folder, env).splitlines()[-1])
    installed = str(venv / "lib")
    assert info["file"].startswith(installed) and info["checkout"] == "None", info
    assert info["models"].startswith(installed) and info["model"].startswith(info["models"])
    assert info["configs"].startswith(installed) and not info["torch"]
    want = load_model(MODEL).predict_proba(open_events(sample))  # this checkout
    np.testing.assert_array_equal(np.load(out), want)


def test_eventlens_infer_outside_the_repository(venv, outside, nanoaod_dir):
    folder, env = outside
    fileset = folder / "fileset.json"
    fileset.write_text(json.dumps({
        "tt": {"files": {str(nanoaod_dir / "nano_tt_v12.root"): "Events"}},
        "dy": {"files": {str(nanoaod_dir / "nano_dy.root"): "Events"}},
    }))
    proc = subprocess.run(
        [str(venv / "bin" / "eventlens"), "infer", "--model", MODEL, "--fileset", "fileset.json",
         "-o", "out"],
        cwd=folder, env=env, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "JIT-compiling" not in proc.stderr, "the wheel's compiled renderer must be used"
    # the same run from the checkout gives the same yields (timings aside)
    from eventlens.pipeline.infer import run_inference

    run_inference(REPO / "onnx_models" / f"{MODEL}.onnx", fileset, folder / "ref", status=False)
    timing = ("seconds", "events_per_second")
    got, want = ({k: v for k, v in json.loads((folder / d / "summary.json").read_text()).items()
                  if k not in timing} for d in ("out", "ref"))
    assert got == want and got["events_selected"] > 0, got
