"""The renderer draws exactly the documented picture (render.h)."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from eventlens.objects import ObjectType, make_objects
from eventlens.render import RenderConfig, render, render_with_stats
from eventlens.render.reference import midpoint_circle


def one_event(*objs: tuple) -> ak.Array:
    """Objects given as (type, pt, eta, phi[, charge[, btag]])."""
    rows = [tuple(o) + (1, 0.0)[len(o) - 4 :] for o in objs]
    cols = list(zip(*rows, strict=True)) if rows else [()] * 6

    def wrap(values: tuple, dtype: type) -> ak.Array:
        return ak.Array([np.asarray(values, dtype=dtype)])

    return make_objects(
        wrap(cols[0], np.int32),
        wrap(cols[1], np.float32),
        wrap(cols[2], np.float32),
        wrap(cols[3], np.float32),
        charge=wrap(cols[4], np.int32),
        btag=wrap(cols[5], np.float32),
    )


def lit(image: np.ndarray) -> set[tuple[int, int, int]]:
    """(channel, row, column) of every non-background pixel."""
    return {tuple(int(v) for v in idx) for idx in np.argwhere(image != 0)}


def test_single_muon_lights_exactly_the_expected_pixels():
    # 64x64, C = 10.5 * 64/224 = 3.0.  eta = 0.05 -> column floor(3.05/6*64) = 32,
    # phi = 0.05 -> row floor((pi + 0.05)/(2 pi) * 64) = 32, r = floor(3 ln 2.08 + 0.5) = 2.
    config = RenderConfig()
    pt = 2.08
    assert math.floor(3.0 * math.log(pt) + 0.5) == 2
    image = render(one_event((ObjectType.MUON, pt, 0.05, 0.05)), config)[0]
    ring = [
        (2, 0),
        (-2, 0),
        (0, 2),
        (0, -2),
        (2, 1),
        (2, -1),
        (-2, 1),
        (-2, -1),
        (1, 2),
        (-1, 2),
        (1, -2),
        (-1, -2),
    ]  # the radius-2 midpoint circle, by hand
    muon = config.channels.index("muon")
    assert lit(image) == {(muon, 32 + dy, 32 + dx) for dx, dy in ring}
    assert image[muon, 32, 34] == 1.0


@pytest.mark.parametrize("r", [1, 2, 3, 5, 8, 13, 30])
def test_outline_is_a_thin_symmetric_ring(r):
    offsets = midpoint_circle(r)
    d = np.hypot(offsets[:, 0], offsets[:, 1])
    assert np.all(np.abs(d - r) < 0.75), "every outline pixel lies on the circle"
    pts = {tuple(p) for p in offsets.tolist()}
    assert pts == {(-x, y) for x, y in pts} == {(y, x) for x, y in pts}, "8-fold symmetric"
    # closed: every pixel has a neighbour (8-connectivity) on each side of the ring
    for x, y in pts:
        neighbours = sum((x + a, y + b) in pts for a in (-1, 0, 1) for b in (-1, 0, 1) if a or b)
        assert neighbours >= 2


def test_cpp_outline_matches_reference():
    from eventlens.render import _cpp

    r = _cpp.renderer(RenderConfig())
    for radius in range(1, r.max_radius() + 1):
        cpp = np.asarray(list(r.outline(radius))).reshape(-1, 2)
        assert {tuple(p) for p in cpp.tolist()} == {
            tuple(p) for p in midpoint_circle(radius).tolist()
        }


def test_phi_wraps_around_the_cylinder():
    config = RenderConfig()
    pt = math.exp(5.2 / 3.0)  # r = 5
    image = render(one_event((ObjectType.JET, pt, 0.0, math.pi - 0.01)), config)[0]
    rows = {row for _, row, _ in lit(image)}
    assert 63 in rows and 0 in rows and 3 in rows, "the circle continues at the bottom"
    assert not rows & set(range(5, 58))
    # phi and phi + 2 pi k are the same direction
    shifted = render(one_event((ObjectType.JET, pt, 0.0, math.pi - 0.01 - 4 * math.pi)), config)
    assert np.array_equal(image, shifted[0])


def test_eta_edge_is_clipped_not_wrapped():
    config = RenderConfig()
    image = render(one_event((ObjectType.JET, 400.0, 2.95, 0.0)), config)[0]
    cols = {col for _, _, col in lit(image)}
    assert max(cols) == 63 and min(cols) > 40


@pytest.mark.parametrize(
    ("obj", "channel"),
    [
        ((ObjectType.ELECTRON, 30.0, 0.0, 0.0), "electron"),
        ((ObjectType.MUON, 30.0, 0.0, 0.0, -1), "muon"),
        ((ObjectType.PHOTON, 30.0, 0.0, 0.0), "photon"),
        ((ObjectType.JET, 30.0, 0.0, 0.0, 0, 0.2782), "jet"),
        ((ObjectType.JET, 30.0, 0.0, 0.0, 0, 0.2783), "bjet"),
        ((ObjectType.MET, 30.0, 2.5, 0.0), "met"),
    ],
)
def test_each_object_type_goes_to_its_channel(obj, channel):
    config = RenderConfig()
    image = render(one_event(obj), config)[0]
    channels = {c for c, _, _ in lit(image)}
    assert channels == {config.channels.index(channel)}


def test_met_is_drawn_at_eta_zero_whatever_its_eta_field():
    config = RenderConfig()
    a = render(one_event((ObjectType.MET, 50.0, 0.0, 1.0)), config)
    b = render(one_event((ObjectType.MET, 50.0, float("nan"), 1.0)), config)
    assert np.array_equal(a, b) and a.any()


def test_muon_charge_channels_and_fallbacks():
    split = RenderConfig(channels=("muon+", "muon-", "jet"))
    img = render(
        one_event(
            (ObjectType.MUON, 30.0, 0, 0, +1),
            (ObjectType.MUON, 30.0, 1, 1, -1),
            (ObjectType.JET, 30.0, -1, 0, 0, 0.9),
        ),
        split,
    )[0]
    assert img[0].any() and img[1].any()
    assert not (img[0] & img[1]).any() if img.dtype == np.uint8 else True
    # no b-jet channel: b-jets are drawn as jets; no photon channel: photons not drawn
    images, stats = render_with_stats(one_event((ObjectType.PHOTON, 30.0, 0, 0)), split)
    assert not images.any() and stats.not_drawn == 1 and stats.drawn == 0
    assert img[2].any()


def test_radius_is_never_below_one_pixel_and_is_capped():
    config = RenderConfig()
    small = render(one_event((ObjectType.MUON, 0.5, 0.0, 0.0)), config)[0]
    assert len(lit(small)) == 4  # the radius-1 ring: the four neighbours
    images, stats = render_with_stats(one_event((ObjectType.JET, 1e30, 0.0, 0.0)), config)
    assert stats.radius_clamped == 1 and images.any()


def test_bad_values_are_skipped_and_counted():
    nan, inf = float("nan"), float("inf")
    events = one_event(
        (ObjectType.MUON, nan, 0, 0),
        (ObjectType.MUON, 20.0, inf, 0),
        (ObjectType.MUON, 20, 0, nan),
        (ObjectType.JET, 0.0, 0, 0),
        (ObjectType.JET, -5.0, 0, 0),
        (ObjectType.JET, 30.0, 3.2, 0),
        (7, 30.0, 0, 0),
        (ObjectType.ELECTRON, 30.0, 0.0, 0.0),
    )
    _, stats = render_with_stats(events, RenderConfig())
    assert stats.objects == 8
    assert (stats.bad_value, stats.eta_outside, stats.unknown_type, stats.drawn) == (5, 1, 1, 1)
    assert stats.objects == stats.drawn + stats.skipped
    clamped, cstats = render_with_stats(events, RenderConfig(eta_policy="clamp"))
    assert cstats.eta_clamped == 1 and cstats.drawn == 2
    jet = RenderConfig().channels.index("jet")
    assert clamped[0, jet, :, 63].any()


def test_empty_events_give_empty_images():
    config = RenderConfig(dtype="uint8")
    images = render(one_event(), config)
    assert images.shape == (1, 6, 64, 64) and not images.any()
    none = render(one_event()[:0], config)
    assert none.shape == (0, 6, 64, 64)


def test_seed_rgb_mode_is_the_papers_picture():
    config = RenderConfig.seed_rgb()
    assert config.shape == (3, 224, 224) and config.effective_radius_scale == 10.5
    image = render(
        one_event((ObjectType.MET, 100.0, 0, 0), (ObjectType.JET, 60.0, 1.0, 1.0, 0, 0.9)), config
    )[0]
    white = (image == 255).all(axis=0)
    assert white.mean() > 0.95, "white background"
    colours = {tuple(image[:, y, x]) for y, x in np.argwhere(~white)}
    assert colours <= {(0, 0, 0), (139, 0, 0)}, "black MET and a dark-red b-jet only"
    assert {(0, 0, 0), (139, 0, 0)} <= colours


def test_radius_scale_follows_the_canvas():
    assert RenderConfig(height=224, width=224).effective_radius_scale == pytest.approx(10.5)
    assert RenderConfig().effective_radius_scale == pytest.approx(3.0)
    assert RenderConfig(radius_scale=4.0).effective_radius_scale == 4.0


@pytest.mark.parametrize(
    "config",
    [
        RenderConfig(),
        RenderConfig.seed_rgb(),
        RenderConfig(channels=("muon", "jet"), overlap="add"),
    ],
)
def test_object_index_map_assigns_every_lit_pixel_to_one_object(config):
    from conftest import random_objects
    from eventlens.render import render_object_index

    objects = random_objects(100, seed=21)
    images = render(objects, config)
    index = render_object_index(objects, config)
    background = np.array(config.background(), dtype=images.dtype)[None, :, None, None]
    painted = images != background
    if config.style == "seed_rgb":  # black MET on white: every channel of a lit pixel changes
        painted = np.broadcast_to((images != background).any(axis=1, keepdims=True), images.shape)
        assert np.array_equal(index.any(axis=1), painted[:, 0])
    else:
        assert np.array_equal(index > 0, painted), "lit exactly where an object owns the pixel"
    counts = ak_num(objects)
    assert np.all(index.max(axis=(1, 2, 3)) <= counts)
    # the owner of a pixel really draws it: re-render each owner alone and check
    event = int(np.argmax(counts))
    for obj in np.unique(index[event][index[event] > 0]):
        alone = render(objects[event : event + 1, obj - 1 : obj], config)[0]
        alone_lit = (alone != background[0]).any(axis=0)
        assert alone_lit[(index[event] == obj).any(axis=0)].all()


def ak_num(objects):
    return ak.to_numpy(ak.num(objects))
