"""All ways of drawing agree: C++ batch == numpy reference == RDataFrame == JIT == C++ users."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, random_objects
from eventlens.errors import ConfigError
from eventlens.render import RenderConfig, allocate, render, render_with_stats
from eventlens.render.reference import render_reference

CONFIGS = {
    "default-float": RenderConfig(),
    "uint8-add-charge": RenderConfig(
        dtype="uint8", overlap="add", channels=("electron", "muon+", "muon-", "jet", "met")
    ),
    "seed-rgb": RenderConfig.seed_rgb(),
    "clamp-over-rect": RenderConfig(
        eta_policy="clamp", overlap="over", height=32, width=48, eta_range=(-2.5, 2.5)
    ),
    "no-bjet-channel": RenderConfig(
        channels=("muon", "jet"), btag_threshold=0.5, height=40, width=40
    ),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_cpp_is_bit_identical_to_reference(name):
    config = CONFIGS[name]
    objects = random_objects(300, seed=list(CONFIGS).index(name))
    images, stats = render_with_stats(objects, config)
    expected = render_reference(objects, config)
    assert images.dtype == expected.dtype
    assert np.array_equal(images, expected)
    assert stats.objects == int(np.sum(ak_num(objects)))
    assert stats.objects == stats.drawn + stats.skipped
    assert stats.drawn > 0.25 * stats.objects


def ak_num(objects):
    import awkward as ak

    return ak.to_numpy(ak.num(objects))


def test_buffer_is_reused_and_checked():
    config = RenderConfig(dtype="uint8")
    a, b = random_objects(50, seed=1), random_objects(50, seed=2)
    buf = allocate(config, 50)
    out = render(a, config, out=buf)
    assert out is buf
    render(b, config, out=buf)
    assert np.array_equal(buf, render(b, config)), "old content is cleared, not overdrawn"
    with pytest.raises(ValueError, match=r"shape \(50, 6, 32, 32\).*need shape \(50, 6, 64, 64\)"):
        render(a, config, out=np.zeros((50, 6, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"dtype float32.*dtype uint8"):
        render(a, config, out=np.zeros((50, 6, 64, 64), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        render(a, config, out=np.zeros((50, 6, 64, 128), np.uint8)[..., ::2])


def test_slices_and_float64_inputs_are_handled():
    objects = random_objects(100, seed=3)
    whole = render(objects, RenderConfig())
    assert np.array_equal(render(objects[37:61], RenderConfig()), whole[37:61])
    import awkward as ak

    as64 = ak.zip(
        {
            f: ak.values_astype(objects[f], np.float64) if f in ("pt", "eta", "phi") else objects[f]
            for f in objects.fields
        }
    )
    assert np.array_equal(render(as64, RenderConfig()), whole)


def test_bad_objects_argument_is_a_clear_error():
    with pytest.raises(ValueError, match="lack field"):
        import awkward as ak

        render(ak.Array([[{"pt": 1.0}]]), RenderConfig())


def test_config_validation_names_the_value():
    with pytest.raises(ValueError, match=r"unknown channel.*'tau'"):
        RenderConfig(channels=("muon", "tau"))
    with pytest.raises(ConfigError, match="'height' = 2"):
        RenderConfig(height=2)
    with pytest.raises(ValueError, match="either 'muon' or the charge"):
        RenderConfig(channels=("muon", "muon+"))
    with pytest.raises(ConfigError, match=r"cfg.yaml: unknown key 'render.size' \(allowed here"):
        RenderConfig.from_dict({"size": 64}, source="cfg.yaml")
    with pytest.raises(ConfigError, match=r"cfg.yaml: 'render.height' = 2, must be an integer"):
        RenderConfig.from_dict({"height": 2}, source="cfg.yaml")
    with pytest.raises(ConfigError, match=r"cfg.yaml: 'render.overlap' must be one of"):
        RenderConfig.from_dict({"overlap": "min"}, source="cfg.yaml")
    assert RenderConfig.from_dict({"style": "seed_rgb", "height": 32}) == RenderConfig.seed_rgb(
        height=32, width=224
    )
    a, b = RenderConfig(), RenderConfig(height=32)
    assert a.digest() != b.digest() and a.digest() == RenderConfig().digest()
    assert a.differences(b) == {"height": (64, 32), "radius_scale": (3.0, 1.5)}
    assert RenderConfig.from_dict(a.to_dict()) == RenderConfig(radius_scale=3.0)


@pytest.mark.integration
@pytest.mark.parametrize("sample", ["nano_dimuon.root", "nano_dy.root", "nano_tt_v12.root"])
def test_rdataframe_define_matches_batch_path_on_real_nanoaod(nanoaod_dir, sample):
    from eventlens._root import root
    from eventlens.nanoaod import open_events
    from eventlens.objects import objects_from_nanoevents
    from eventlens.render.rdf import define_image, render_dataframe

    path = str(nanoaod_dir / sample)
    config = RenderConfig(dtype="uint8")
    batch, bstats = render_with_stats(objects_from_nanoevents(open_events(path)), config)
    ROOT = root()
    zero_copy, rstats = render_dataframe(ROOT.RDataFrame("Events", path), config)
    assert np.array_equal(zero_copy, batch)
    assert rstats == bstats
    column = define_image(ROOT.RDataFrame("Events", path), config).Take[
        "ROOT::RVec<unsigned char>"
    ]("image")
    defined = np.stack([np.asarray(v) for v in column.GetValue()]).reshape(batch.shape)
    assert np.array_equal(defined, batch)
    assert batch.any(axis=(0, 2, 3)).sum() >= 4, "several object channels populated"


@pytest.mark.integration
def test_rdataframe_on_empty_file(nanoaod_dir):
    from eventlens._root import root
    from eventlens.render.rdf import render_dataframe

    images, stats = render_dataframe(
        root().RDataFrame("Events", str(nanoaod_dir / "nano_dy_empty.root")), RenderConfig()
    )
    assert images.shape == (0, 6, 64, 64) and stats.events == 0


@pytest.mark.integration
def test_jit_fallback_draws_the_same_images(tmp_path):
    objects = random_objects(200, seed=11)
    expected = render(objects, RenderConfig())
    np.save(tmp_path / "expected.npy", expected)
    script = (
        "import sys, numpy as np; sys.path.insert(0, {tests!r})\n"
        "from conftest import random_objects\n"
        "from eventlens.render import RenderConfig, render\n"
        "img = render(random_objects(200, seed=11), RenderConfig())\n"
        "assert np.array_equal(img, np.load({expected!r})), 'JIT images differ'\n"
    ).format(tests=str(REPO / "tests"), expected=str(tmp_path / "expected.npy"))
    env = {**os.environ, "EVENTLENS_FORCE_JIT": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "JIT-compiling" in proc.stderr and proc.stderr.count("\n") < 10


@pytest.mark.integration
@pytest.mark.slow
def test_cpp_analysis_finds_installed_package(nanoaod_dir, tmp_path):
    """A downstream C++ RDataFrame program: find_package(EventLens), build, run."""
    from eventlens.nanoaod import open_events
    from eventlens.objects import objects_from_nanoevents
    from eventlens.render import cmake_dir

    cmake = shutil.which("cmake", path=str(Path(sys.executable).parent)) or shutil.which("cmake")
    build = tmp_path / "build"

    def run(*cmd: str) -> str:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    run(
        cmake,
        "-S",
        str(REPO / "cpp" / "examples"),
        "-B",
        str(build),
        f"-DEventLens_DIR={cmake_dir()}",
        "-DCMAKE_BUILD_TYPE=Release",
    )
    run(cmake, "--build", str(build), "--target", "rdf_images")
    sample = nanoaod_dir / "nano_tt_v12.root"
    out = run(str(build / "rdf_images"), str(sample)).split("\n")
    lit_cpp = [int(line.split()[2]) for line in out if line.startswith("channel")]
    images = render(objects_from_nanoevents(open_events(sample)), RenderConfig(dtype="uint8"))
    assert lit_cpp == [int((images[:, k] != 0).sum()) for k in range(6)]
