"""Identical results (histograms bit for bit, cutflow, tables) from every coffea executor:
Iterative, Futures with 2 worker processes, and a local Dask cluster."""

from __future__ import annotations

import itertools

import hist
import numpy as np
import pyarrow.parquet as pq
import pytest

from eventlens.pipeline.select import run_selection
from eventlens.pipeline.table import table_files
from nanoaod_toy import fileset

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Missing cross-reference index:RuntimeWarning"),
]


def by_category(h: hist.Hist) -> dict[tuple, np.ndarray]:
    """Bin contents keyed by category values (growth axes may order them differently)."""
    cats = [ax for ax in h.axes if isinstance(ax, (hist.axis.StrCategory, hist.axis.IntCategory))]
    out = {}
    for combo in itertools.product(*(list(ax) for ax in cats)):
        view = h[{ax.name: hist.loc(v) for ax, v in zip(cats, combo, strict=True)}].view(flow=True)
        out[combo] = np.stack([view["value"], view["variance"]])
    return out


def test_executors_agree(toy_samples, tmp_path):
    fs = fileset(toy_samples, ["wjets", "ttbar"])  # 2 files x 2 chunks
    runs = {
        ex: run_selection(
            "dtw", fs, tmp_path / ex, executor=ex, workers=2, chunksize=20, status=False
        )
        for ex in ("iterative", "futures", "dask")
    }
    ref = runs["iterative"]
    assert len(ref.manifest["files"]) >= 4  # several chunks, several table files
    for ex, res in runs.items():
        assert res.cutflow == ref.cutflow, ex
        for name, h in ref.hists.items():
            want, got = by_category(h), by_category(res.hists[name])
            assert got.keys() == want.keys(), (ex, name)
            for key in want:  # chunks are added in plan order whatever ran them: exact
                np.testing.assert_array_equal(got[key], want[key], err_msg=f"{ex} {name} {key}")
        assert res.manifest["files"] == ref.manifest["files"], ex
        for mine, theirs in zip(
            table_files(ref.output_dir), table_files(res.output_dir), strict=True
        ):
            assert mine.name == theirs.name
            assert pq.read_table(mine).equals(pq.read_table(theirs)), (ex, mine.name)
