"""``eventlens select`` from the command line."""

from __future__ import annotations

import json
import logging

import pytest

from eventlens.cli import main
from eventlens.pipeline.table import MANIFEST, load_table
from nanoaod_toy import fileset

pytestmark = pytest.mark.filterwarnings("ignore:Missing cross-reference index:RuntimeWarning")


def test_select_cli_writes_everything(toy_samples, tmp_path):
    from eventlens.pipeline.finish import read_hists

    fs_path = tmp_path / "fileset.json"
    fs_path.write_text(json.dumps(fileset(toy_samples, ["jpsi", "upsilon"])))
    out = tmp_path / "out"
    assert (
        main(["-q", "select", "dimuon", "--fileset", str(fs_path), "-o", str(out), "--lumi", "100"])
        == 0
    )
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["task"] == "dimuon" and manifest["luminosity_pb"] == 100.0
    assert manifest["rows"] == len(load_table(out)) > 0
    results = read_hists(out)
    assert set(results["hists"]) == {"mass", "met", "nobjects", "nbtag"}
    assert (
        json.loads((out / "cutflow.json").read_text()) == results["cutflow"] == manifest["cutflow"]
    )
    assert "opposite_charge_pair" in (out / "cutflow.txt").read_text()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_select_cli_errors_are_one_line(toy_samples, tmp_path):
    fs = fileset(toy_samples, ["jpsi"])
    fs["jpsi"]["files"][str(tmp_path / "gone.root")] = "Events"
    fs_path = tmp_path / "fileset.json"
    fs_path.write_text(json.dumps(fs))
    args = ["select", "dimuon", "--fileset", str(fs_path), "-o", str(tmp_path / "out")]
    handler = _Records()
    logging.getLogger("eventlens").addHandler(handler)  # the CLI's error logger
    try:
        assert main(args) == 2
    finally:
        logging.getLogger("eventlens").removeHandler(handler)
    assert [r.getMessage() for r in handler.records] == [f"{tmp_path / 'gone.root'}: no such file"]
    assert handler.records[0].exc_info is None
    assert main([*args, "--skip-bad-files"]) == 0
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["skipped"][0]["file"] == str(tmp_path / "gone.root")
    assert main([*args, "--config", str(tmp_path / "nope.yaml"), "--overwrite"]) == 2
