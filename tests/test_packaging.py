"""The lean core and its extras (issue 17): what the core needs, what the extras bring.

* ``pyproject.toml`` carries ranges, ``constraints.txt`` the exact measured set, and the
  two agree (every pin inside its range, the lock up to date with the environment);
* the selection and in-loop inference run with every optional module unimportable
  (``eventlens infer`` on a real NanoAOD file), and do not import any of them;
* a command whose extra is missing says, in one line, which extra to install;
* :mod:`eventlens.extras` and the extras of ``pyproject.toml`` name the same packages.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from eventlens.extras import OPTIONAL

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
#: Everything an extra brings, blocked: what a core-only install lacks.
BLOCKED = sorted(OPTIONAL)


def blocked_python(code: str) -> str:
    """``code`` preceded by making every optional module unimportable."""
    return f"import sys\nfor m in {BLOCKED!r}:\n    sys.modules[m] = None\n{code}"


def test_extras_table_matches_pyproject():
    optional = PROJECT["optional-dependencies"]
    for module, (dist, extra) in OPTIONAL.items():
        names = {canonicalize_name(Requirement(r).name) for r in optional[extra]}
        assert canonicalize_name(dist) in names or any(
            canonicalize_name(Requirement(r).name) == "coffea" for r in optional[extra]
        ), f"{module}: {dist} is not in the {extra!r} extra"
    core = {canonicalize_name(Requirement(r).name) for r in PROJECT["dependencies"]}
    assert not core & {canonicalize_name(d) for d, _ in OPTIONAL.values()}, "optional in core"
    assert not any(n.startswith("onnxruntime") for n in core), "ORT build: the user's choice"
    for r in PROJECT["dependencies"]:
        assert "==" not in r, f"{r}: [project] carries ranges, constraints.txt the pins"


def test_constraints_pin_inside_the_ranges_and_are_current():
    from devtools.lock import closure, constraints_text, project_requirements

    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    for req in project_requirements(["dev", "gpu"]):
        name = canonicalize_name(req.name)
        assert name in pins, f"{name} is not pinned in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} ∉ {req}"
    assert "torch" not in {canonicalize_name(n) for n in closure(project_requirements([]))}
    current = (REPO / "constraints.txt").read_text()
    assert constraints_text() == current, "constraints.txt is stale: python -m devtools.lock"


@pytest.mark.integration
def test_core_runs_infer_without_any_extra(nanoaod_dir, tmp_path):
    """``eventlens infer`` (selection + rendering + ONNX in the loop) with every optional
    module unimportable: the core needs none of them."""
    fileset = tmp_path / "f.json"
    fileset.write_text(json.dumps({"tt": [str(nanoaod_dir / "nano_tt_v12.root")]}))
    code = blocked_python(
        "from eventlens.cli import main\n"
        f"rc = main(['-q', 'infer', '--model', 'dtw_compact_cnn', '--fileset', {str(fileset)!r},"
        f" '-o', {str(tmp_path / 'out')!r}])\n"
        "import eventlens\n"
        "m = eventlens.load_model('dtw_compact_cnn')\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["events_selected"] > 0


def test_selection_and_inference_import_no_optional_module():
    code = (
        "import sys, eventlens\n"
        "import eventlens.classifier, eventlens.pipeline.run, eventlens.pipeline.infer\n"
        "import eventlens.processors.inference, eventlens.processors.registry as r\n"
        "r.all_tasks(); eventlens.load_model('dtw_compact_cnn').wrapper.session\n"
        f"print(sorted(m for m in {BLOCKED!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


@pytest.mark.parametrize(
    ("argv", "extra"),
    [
        (["train", str(REPO / "configs/train/dtw_compact_cnn.yaml")], "train"),
        (["export", "missing.pt", "-o", "x.onnx"], "train"),
        (["generate", "dy", "--events", "1", "-o", "g.root"], "generate"),
    ],
)
def test_missing_extra_is_one_line(argv, extra, tmp_path):
    code = blocked_python(f"from eventlens.cli import main\nsys.exit(main({argv!r}))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    text = proc.stdout + proc.stderr
    assert f"pip install 'eventlens[{extra}]'" in text and "Traceback" not in text, text


def test_missing_onnxruntime_names_both_builds(tmp_path):
    code = (
        "import sys\nsys.modules['onnxruntime'] = None\n"
        "from eventlens.inference import make_session\n"
        "from eventlens.errors import EventLensError\n"
        "try:\n    make_session('x.onnx')\nexcept EventLensError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "eventlens[cpu]" in out.stdout and "eventlens[gpu]" in out.stdout
