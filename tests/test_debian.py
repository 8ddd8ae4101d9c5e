"""eventlens.debian: trixie packages fetched with an isolated apt (ONNX Runtime's C++ headers)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from eventlens.debian import DebianError, fetch_onnxruntime_headers, onnxruntime_include_dir

needs_apt = pytest.mark.skipif(
    not (shutil.which("apt-get") and shutil.which("dpkg-deb")), reason="no apt-get/dpkg-deb here"
)


def test_headers_already_there_is_a_file_check(tmp_path):
    include = onnxruntime_include_dir(tmp_path)
    include.mkdir(parents=True)
    (include / "onnxruntime_cxx_api.h").write_text("// present\n")
    assert fetch_onnxruntime_headers(tmp_path) == include
    assert not (tmp_path / "apt").exists()  # apt was never run


@needs_apt
def test_unreachable_mirror_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EVENTLENS_DEBIAN_MIRROR", "http://127.0.0.1:9/debian")
    with pytest.raises(DebianError, match=r"apt-get download .*127\.0\.0\.1:9"):
        fetch_onnxruntime_headers(tmp_path)
    assert not onnxruntime_include_dir(tmp_path).exists()


@needs_apt
@pytest.mark.integration
@pytest.mark.slow
def test_fetch_unpacks_headers_and_leaves_the_system_alone(tmp_path):
    status = Path("/var/lib/dpkg/status")
    before = status.read_bytes()
    include = fetch_onnxruntime_headers(tmp_path)
    assert (include / "onnxruntime_cxx_api.h").exists()
    assert (include / "onnxruntime_c_api.h").exists()
    assert not (tmp_path / "apt" / "lists").exists()  # the index of all of trixie is dropped
    assert status.read_bytes() == before
    shutil.rmtree(tmp_path / "apt")  # a second call needs no apt: the headers are there
    assert fetch_onnxruntime_headers(tmp_path) == include
