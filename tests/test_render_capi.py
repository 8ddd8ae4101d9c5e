"""The batch renderer's C ABI (ctypes) draws the same bytes as the PyROOT renderer.

The batch path (:func:`eventlens.render.render`, every image a model sees) goes through
``cpp/include/eventlens/render_c.h`` when the compiled library is installed, so a
worker process never starts PyROOT/cling.  Same C++ underneath; these tests hold the
two bindings to identical images, object-index maps and counters.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import random_objects
from eventlens.render import RenderConfig, _capi, _cpp
from eventlens.render.batch import RenderStats, flatten_objects

CONFIGS = [
    RenderConfig(height=32, width=32),
    RenderConfig(height=24, width=40, dtype="float32", overlap="add", eta_policy="clamp"),
    RenderConfig(height=16, width=16, channels=("muon", "jet", "bjet", "met")),
    RenderConfig.seed_rgb(),
]

pytestmark = pytest.mark.skipif(_capi.library() is None, reason="no compiled libeventlens.so")


def both(config: RenderConfig, objects, kind: str):
    flat = flatten_objects(objects)
    n, c = flat.n_events, flat.columns
    dtype = {"u8": np.uint8, "f32": np.float32, "index": np.int32}[kind]
    outs, stats = [], []
    null = _cpp.root().nullptr
    for r, cols in (
        (_capi.renderer(config), [c[k] for k in ("type", "pt", "eta", "phi", "charge", "btag")]),
        (_cpp.renderer(config),
         [c[k] if c[k] is not None else null for k in ("type", "pt", "eta", "phi", "charge",
                                                        "btag")]),
    ):
        out = np.zeros((n, *config.shape), dtype)
        fn = getattr(r, f"render_batch_{kind}")
        stats.append(RenderStats.from_cpp(fn(n, flat.offsets, *cols, out, out.size)))
        outs.append(out)
    return outs, stats


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.height}x{c.width}-{c.overlap}")
def test_same_images_and_counters_as_pyroot(config):
    objects = random_objects(300, seed=11)
    kind = "u8" if config.dtype == "uint8" else "f32"
    (c_out, root_out), (c_stats, root_stats) = both(config, objects, kind)
    assert c_out.tobytes() == root_out.tobytes()
    assert c_stats == root_stats and c_stats.objects > 0 and c_stats.drawn > 0
    (c_idx, root_idx), _ = both(config, objects, "index")
    np.testing.assert_array_equal(c_idx, root_idx)


def test_absent_columns_and_empty_events():
    objects = random_objects(50, seed=3)[["type", "pt", "eta", "phi"]]  # no charge, btag
    config = CONFIGS[0]
    (c_out, root_out), (c_stats, root_stats) = both(config, objects, "u8")
    assert c_out.tobytes() == root_out.tobytes() and c_stats == root_stats
    from eventlens.render import render

    assert render(random_objects(20, seed=5)[:0], config).shape == (0, *config.shape)


def test_errors_are_python_exceptions():
    bad = RenderConfig(height=8, width=8)
    object.__setattr__(bad, "height", -8)  # past the Python checks: C++ validates too
    with pytest.raises(ValueError, match=r"eventlens renderer: \S"):
        _capi.CRenderer(bad, _capi.library())
    r = _capi.renderer(CONFIGS[0])
    flat = flatten_objects(random_objects(4, seed=1))
    c = flat.columns
    out = np.zeros((4, *CONFIGS[0].shape), np.uint8)
    with pytest.raises(TypeError, match="dtype float64"):
        r.render_batch_u8(4, flat.offsets, c["type"], c["pt"].astype(np.float64), c["eta"],
                          c["phi"], None, None, out, out.size)


def test_batch_rendering_starts_no_pyroot():
    code = (
        "import sys\n"
        "from conftest import random_objects\n"
        "from eventlens.render import RenderConfig, render\n"
        "from eventlens.render.batch import flatten_objects, same_pictures\n"
        "img = render(random_objects(10, seed=2), RenderConfig(height=16, width=16))\n"
        "assert img.shape == (10, 6, 16, 16) and img.any()\n"
        "flat = flatten_objects(random_objects(10, seed=2))\n"  # what systematics call
        "assert same_pictures(flat, flat, RenderConfig(height=16, width=16)).all()\n"
        "print(sorted(m for m in ('ROOT', 'cppyy', 'libcppyy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=str(__import__("pathlib").Path(__file__).parent))
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.height}x{c.width}-{c.overlap}")
def test_same_object_placements_as_pyroot(config):
    """Systematic variations compare placements to skip unchanged pictures: the C ABI
    (kind 3, what workers use) places every object where PyROOT's renderer does."""
    flat = flatten_objects(random_objects(300, seed=12))
    n, c = flat.n_events, flat.columns
    n_objects = int(flat.offsets[-1] - flat.offsets[0])
    null = _cpp.root().nullptr
    keys = ("type", "pt", "eta", "phi", "charge", "btag")
    c_out = np.zeros((n_objects, 4), np.int32)
    root_out = np.zeros((n_objects, 4), np.int32)
    _capi.renderer(config).render_batch_geometry(n, flat.offsets, *[c[k] for k in keys],
                                                 c_out, c_out.size)
    _cpp.renderer(config).render_batch_geometry(
        n, flat.offsets, *[c[k] if c[k] is not None else null for k in keys], root_out,
        root_out.size)
    np.testing.assert_array_equal(c_out, root_out)
    assert (c_out[:, 0] >= 0).any()
