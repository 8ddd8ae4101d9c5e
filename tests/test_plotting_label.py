"""The CMS label: "CMS Open Data/Simulation, Private work" never runs into the lumi text."""

from __future__ import annotations

import pytest

from eventlens.plotting.style import cms_label, lumi_text, pyplot


def test_lumi_text_is_short():
    assert lumi_text(2256.38) == "2.26 fb$^{-1}$"
    assert lumi_text(11.6) == "11.6 pb$^{-1}$"
    assert lumi_text(138e3) == "138 fb$^{-1}$"


@pytest.mark.parametrize("data", [True, False])
@pytest.mark.parametrize("width", [7.0, 9.0, 10.0])
def test_label_and_lumi_do_not_overlap(data, width):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(width, 8))
    cms_label(ax, data=data, lumi=16300.0)
    renderer = fig.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_text()]
    left = max(t.get_window_extent(renderer).x1 for t in texts if "Private work" in t.get_text())
    right = next(t for t in texts if "fb" in t.get_text()).get_window_extent(renderer).x0
    assert len(texts) == 3, "the shrunk label replaces the first one"
    assert left < right
    plt.close(fig)
