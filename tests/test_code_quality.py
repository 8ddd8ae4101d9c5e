"""The code base stays clean: ruff, and a warning-free C++ build."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_ruff_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    proc = subprocess.run(
        [ruff, "check", "--no-cache", "."], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cpp_compiles_without_warnings(tmp_path):
    """-Wall -Wextra -Wpedantic -Wshadow -Wconversion, as errors."""
    import eventlens.render._cpp as c

    root_inc = Path(c.root().__file__).parent / "include"
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
            f"-I{REPO / 'cpp' / 'include'}",
            f"-isystem{root_inc}",
            str(REPO / "cpp" / "src" / "render.cxx"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
