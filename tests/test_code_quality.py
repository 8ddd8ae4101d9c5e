"""The code base stays clean: ruff, and a warning-free C++ build."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO


def test_ruff_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    proc = subprocess.run(
        [ruff, "check", "--no-cache", "."], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


#: Every C++ source of the project; model.cxx needs the ONNX Runtime headers.
CPP_SOURCES = [
    "cpp/src/render.cxx",
    "cpp/src/model.cxx",
    "cpp/examples/rdf_images.cxx",
    "cpp/examples/classify_nanoaod.cxx",
    "cpp/examples/model_predict.cxx",
]


@pytest.mark.parametrize("source", CPP_SOURCES)
def test_cpp_compiles_without_warnings(source):
    """-Wall -Wextra -Wpedantic -Wshadow -Wconversion, as errors."""
    import eventlens.render._cpp as c
    from eventlens.debian import onnxruntime_include_dir

    root_inc = Path(c.root().__file__).parent / "include"
    includes = [f"-I{REPO / 'cpp' / 'include'}", f"-isystem{root_inc}"]
    if source == "cpp/src/model.cxx":
        ort = onnxruntime_include_dir()
        if not (ort / "onnxruntime_cxx_api.h").exists():
            pytest.skip(
                f"ONNX Runtime headers not in {ort}: python -m eventlens.debian onnxruntime-headers"
            )
        includes.append(f"-isystem{ort}")
    proc = subprocess.run(
        [
            "c++",
            "-std=c++17",
            "-O2",
            "-fsyntax-only",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Wshadow",
            "-Wconversion",
            "-Werror",
            *includes,
            str(REPO / source),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
