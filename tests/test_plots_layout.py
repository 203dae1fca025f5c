"""How trialkit lays out and draws a captioned figure (issue 12: a figure drawn once).

- the layout measured once is matplotlib's own tight layout, to the last float;
- the caption is wrapped to the figure, and the axes keep clear of it and of the title;
- in IPython (the inline backend's PNG output), a captioned figure is drawn once, at its own
  size; any other figure, or any other output set-up, is left to IPython.
"""

from __future__ import annotations

import base64
import io

import matplotlib
import numpy as np
import pytest

matplotlib.use("agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.layout_engine import TightLayoutEngine

from trialkit import drawing, plots
from trialkit.text import provenance_label

LONG_NOTE = (
    "Shaded: middle 95% of members. Paper: 0.0081 for the decrease, p < 0.05 for insulin. "
    "Every member matches every forced summary; what differs is what the paper leaves open, "
    "the week-48 values of patients whose change was not reported one by one."
)


def _busy_figure(nrows: int = 2, ncols: int = 2) -> tuple[Figure, np.ndarray]:
    """Titles, log axes, a legend outside the axes, long tick labels: what layout measures."""
    rng = np.random.default_rng(3)
    fig, axes = plt.subplots(nrows, ncols, figsize=(9, 6), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.hist(rng.lognormal(size=300), bins=30, label="members")
        ax.set_xscale("log")
        ax.set_title(f"panel {k}: a title long enough to matter")
        ax.set_xlabel("two-sided p (log scale)")
        ax.set_ylabel("members")
    axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), title="legend outside")
    fig.suptitle("A suptitle", fontsize=11)
    return fig, axes


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (2, 3)])
@pytest.mark.parametrize("rect", [(0, 0.1, 1, 0.94), (0, 0.07, 1, 1), None])
def test_layout_measured_once_is_matplotlibs_tight_layout(shape, rect):
    positions = []
    for engine in (TightLayoutEngine, drawing.TightLayoutMeasuredOnce):
        fig, axes = _busy_figure(*shape)
        engine(rect=rect).execute(fig)
        positions.append([ax.get_position().bounds for ax in axes.flat])
        plt.close(fig)
    assert positions[0] == positions[1]  # identical floats, not just close


def test_layout_measured_once_measures_each_axes_once(monkeypatch):
    import matplotlib.artist as martist

    fig, axes = _busy_figure(2, 2)
    calls: list[int] = []
    measure = martist._get_tightbbox_for_layout_only

    def counting(obj, *a, **k):
        calls.append(id(obj))
        return measure(obj, *a, **k)

    monkeypatch.setattr(martist, "_get_tightbbox_for_layout_only", counting)
    TightLayoutEngine(rect=(0, 0.1, 1, 0.94)).execute(fig)
    twice = sum(calls.count(id(ax)) for ax in axes.flat)
    calls.clear()
    drawing.TightLayoutMeasuredOnce(rect=(0, 0.1, 1, 0.94)).execute(fig)
    once = sum(calls.count(id(ax)) for ax in axes.flat)
    plt.close(fig)
    assert (twice, once) == (8, 4)
    assert martist._get_tightbbox_for_layout_only is counting  # put back after the layout


@pytest.mark.parametrize("width", [4.0, 7.0, 13.0])
def test_caption_wraps_to_the_figure_and_clears_the_axes(width):
    fig, axes = _busy_figure(2, 2)
    fig.set_size_inches(width, 6)
    plots._caption_figure(fig, LONG_NOTE, "reconstructed", title="A suptitle")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    text = fig._trialkit_caption
    box = text.get_window_extent(renderer)
    assert "\n" in text.get_text() or width >= 13
    label = provenance_label("reconstructed")
    assert text.get_text().replace("\n", " ") == f"{label}. {LONG_NOTE}"
    assert box.x0 >= 0 and box.x1 <= fig.bbox.x1  # inside the figure's width
    lowest = min(ax.get_tightbbox(renderer).y0 for ax in axes.flat)
    assert box.y1 < lowest  # the caption sits under everything the axes draw
    highest = max(ax.get_tightbbox(renderer).y1 for ax in axes.flat)
    assert highest < fig._suptitle.get_window_extent(renderer).y0
    plt.close(fig)


def test_a_second_caption_replaces_the_first_and_an_empty_one_keeps_its_room():
    fig, ax = plt.subplots(figsize=(6, 3))
    plots.caption(ax, LONG_NOTE, provenance="simulated")
    room = plots._caption_room(fig)
    plots.caption(ax, "Short.", provenance="simulated")
    assert [t.get_text() for t in fig.texts] == [f"{provenance_label('simulated')}. Short."]
    short = plots._caption_room(fig)
    plots.caption(ax)  # an inner plot function's caption without words
    assert plots._caption_room(fig) == short < room
    assert isinstance(fig.get_layout_engine(), drawing.TightLayoutMeasuredOnce)
    plt.close(fig)


# ---------------------------------------------------------------- one draw in IPython
@pytest.fixture
def shell():
    """An IPython shell whose PNG output is the inline backend's default."""
    from functools import partial

    from IPython import get_ipython
    from IPython.core.pylabtools import print_figure
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython() or get_ipython()  # the shell exists after the first call
    formatter = ip.display_formatter.formatters["image/png"]
    before = formatter.type_printers.get(Figure)
    default = partial(print_figure, fmt="png", base64=True, bbox_inches="tight")
    formatter.for_type(Figure, default)
    enabled, formatter.enabled = formatter.enabled, True
    yield ip, formatter, default
    formatter.enabled = enabled
    formatter.type_printers.pop(Figure, None)
    if before is not None:
        formatter.for_type(Figure, before)


def _count_draws(monkeypatch) -> list[int]:
    draws: list[int] = []
    draw = Figure.draw

    def counting(self, renderer):
        draws.append(1)
        return draw(self, renderer)

    monkeypatch.setattr(Figure, "draw", counting)
    return draws


def test_a_captioned_figure_is_drawn_once_at_its_size(shell, monkeypatch):
    from PIL import Image

    _ip, formatter, _default = shell
    fig, axes = _busy_figure(2, 2)
    plots._caption_figure(fig, LONG_NOTE, "simulated", title="A suptitle")
    draws = _count_draws(monkeypatch)
    png = formatter(fig)
    image = Image.open(io.BytesIO(base64.b64decode(png)))
    assert len(draws) == 1
    assert image.size == (round(9 * fig.dpi), round(6 * fig.dpi))
    plt.close(fig)


def test_other_figures_and_other_set_ups_keep_ipythons_output(shell, monkeypatch):
    from functools import partial

    from IPython.core.pylabtools import print_figure

    _ip, formatter, default = shell
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    draws = _count_draws(monkeypatch)
    formatter(fig)  # not captioned: IPython's own (tight box: more than one draw)
    assert len(draws) > 1
    plt.close(fig)

    retina = partial(print_figure, fmt="retina", base64=True, bbox_inches="tight")
    formatter.for_type(Figure, retina)
    fig, ax = plt.subplots()
    plots.caption(ax, "A caption.", provenance="simulated")
    assert formatter.type_printers[Figure] is retina  # retina: left alone
    plt.close(fig)


def test_a_figure_with_something_outside_gets_ipythons_tight_box(shell, monkeypatch):
    """A title wider than its axes (long tick labels squeeze them) sticks out after the one
    tight-layout pass: IPython's tight box then keeps all of it, as before."""
    from PIL import Image

    _ip, formatter, _default = shell
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.barh(["Pearson chi-square with Yates' correction, a long label"] * 1, [0.05])
    ax.set_title("9/45 vs 2/44: the same data, seven tests, and a title longer than its axes")
    plots.caption(ax, "A caption.", provenance="simulated")
    draws = _count_draws(monkeypatch)
    image = Image.open(io.BytesIO(base64.b64decode(formatter(fig))))
    assert len(draws) > 1  # the one draw, then IPython's
    assert image.size[0] > round(7 * fig.dpi)  # wider than the figure: the title is whole
    plt.close(fig)


def test_a_figure_out_after_one_layout_pass_is_laid_out_and_drawn_again(shell, monkeypatch):
    """One tight-layout pass can leave a title above the figure (07's teaching-trial
    tipping grid); a second pass, from the first one's positions, brings it in: two draws
    at the figure's own size instead of IPython's tight box (two more, and a bigger picture)."""
    from PIL import Image

    from trialkit import stats

    _ip, formatter, _default = shell
    grid = stats.responder_tipping_point(15, 36, 9, 7, 34, 12)
    ax = plots.tipping_point(
        grid, title="Teaching trial: observed 15/36 vs 7/34, Fisher test", note=LONG_NOTE,
        synthetic="simulated",
    )  # fmt: skip
    fig = ax.figure
    fig.canvas.draw()
    assert drawing.sticks_out(fig)  # after one pass: the case this is about
    fig.set_layout_engine(drawing.TightLayoutMeasuredOnce(**fig.get_layout_engine().get()))
    ax.set_position([0.1, 0.1, 0.8, 0.8])  # back to a fresh, not yet laid out figure
    draws = _count_draws(monkeypatch)
    image = Image.open(io.BytesIO(base64.b64decode(formatter(fig))))
    assert len(draws) == 2
    assert image.size == (round(fig.get_figwidth() * fig.dpi), round(fig.get_figheight() * fig.dpi))
    assert not drawing.sticks_out(fig)
    plt.close(fig)


def test_the_png_is_the_figure_without_its_opaque_alpha_channel():
    """The PNG trialkit writes is matplotlib's picture, pixel for pixel; opaque: RGB."""
    from PIL import Image

    fig, axes = _busy_figure(1, 2)
    plots._caption_figure(fig, LONG_NOTE, "simulated")
    fig.canvas.draw()
    fig.set_layout_engine("none")  # laid out: both draws below show the same positions
    ours = io.BytesIO()
    drawing.png_opaque_as_rgb(fig, ours)
    theirs = io.BytesIO()
    fig.canvas.print_png(theirs)
    a, b = Image.open(ours), Image.open(theirs)
    assert a.mode == "RGB" and b.mode == "RGBA" and a.size == b.size
    assert np.array_equal(np.asarray(a), np.asarray(b)[..., :3])
    fig.patch.set_alpha(0.5)  # transparent somewhere: the alpha channel stays
    kept = io.BytesIO()
    drawing.png_opaque_as_rgb(fig, kept)
    assert Image.open(kept).mode == "RGBA"
    plt.close(fig)


def test_after_a_cell_figures_are_shown_before_matplotlib_redraws_them(shell):
    """matplotlib's post-cell redraw of stale figures, registered before the inline
    backend's display, drew every figure a cell left for display a second time: trialkit
    puts the display first (and leaves every other hook where it was)."""
    import matplotlib.pyplot as mplt
    from matplotlib_inline.backend_inline import flush_figures

    ip, _formatter, _default = shell
    redraw = mplt._draw_all_if_interactive
    other = lambda: None  # noqa: E731
    saved = list(ip.events.callbacks["post_execute"])
    for hook in saved:
        ip.events.unregister("post_execute", hook)
    try:
        for hook in (other, redraw, flush_figures):
            ip.events.register("post_execute", hook)
        fig, ax = plt.subplots()
        plots.caption(ax, "A caption.", provenance="simulated")
        assert ip.events.callbacks["post_execute"] == [other, flush_figures, redraw]
        plots.caption(ax, "Again.", provenance="simulated")  # idempotent
        assert ip.events.callbacks["post_execute"] == [other, flush_figures, redraw]
        plt.close(fig)
    finally:
        for hook in list(ip.events.callbacks["post_execute"]):
            ip.events.unregister("post_execute", hook)
        for hook in saved:
            ip.events.register("post_execute", hook)


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (1, 3)])
def test_the_check_after_the_draw_measures_what_matplotlib_measures(shape):
    """``drawing.sticks_out`` measures the figure within the draw's
    ``drawing.measured_once``, taking each axis's ticks and tick label boxes from the draw
    instead of computing them again: the figure's box is the same, to the last float, as
    matplotlib's own."""
    fig, axes = _busy_figure(*shape)
    for ax in np.ravel(axes):
        ax.set_xscale("log")  # log axes: minor ticks too
        ax.set_xlim(1e-4, 1)
        ax.set_title("A title longer than a narrow panel, on purpose")
    plots._caption_figure(fig, LONG_NOTE, "simulated", title="A suptitle")
    axis = matplotlib.axis.Axis
    update, boxes = axis._update_ticks, axis._get_ticklabel_bboxes
    calls: list[str] = []

    def counting_ticks(self):
        calls.append("ticks")
        return update(self)

    def counting_boxes(self, ticks, renderer=None):
        calls.append("boxes")
        return boxes(self, ticks, renderer)

    axis._update_ticks, axis._get_ticklabel_bboxes = counting_ticks, counting_boxes
    try:
        with drawing.measured_once() as drawn:
            fig.canvas.draw()
            assert calls and drawn.ticks  # the draw computed and kept every axis's ticks
            calls.clear()
            ours = drawing.drawn_box(fig).bounds
            assert not calls  # nothing computed or measured again
    finally:
        axis._update_ticks, axis._get_ticklabel_bboxes = update, boxes
    assert matplotlib.axis.Axis._update_ticks is update  # left as it was
    assert matplotlib.axis.Axis._get_ticklabel_bboxes is boxes
    theirs = fig.get_tightbbox(fig.canvas.get_renderer()).bounds  # matplotlib's, afresh
    assert ours == theirs
    plt.close(fig)


def _shared_log_twin() -> Figure:
    fig, axes = plt.subplots(2, 2, figsize=(8, 6), sharey="row", sharex="col")
    for i, ax in enumerate(axes.ravel()):
        ax.plot(np.logspace(-4, 0, 20), np.linspace(0, 1e4 * (i + 1), 20))
        ax.set_xscale("log")
        ax.set_title(f"panel {i}: a title of some length")
        ax.set_xlabel("p (log scale)")
    axes[0, 1].twinx().plot([1e-3, 1e-1], [5, 50], color="k")
    image = axes[1, 1].imshow(np.arange(12).reshape(3, 4), extent=(1e-4, 1, 0, 4e4), aspect="auto")
    fig.colorbar(image, ax=axes[1, 1])
    plots._caption_figure(fig, LONG_NOTE, "simulated", title="Shared, log, twin, colour bar")
    return fig


def _tipping() -> Figure:
    from trialkit import stats

    grid = stats.responder_tipping_point(15, 36, 9, 7, 34, 12)
    return plots.tipping_point(grid, title="A tipping grid", note=LONG_NOTE, synthetic=True).figure


def _busy() -> Figure:
    fig, _axes = _busy_figure(2, 3)
    plots._caption_figure(fig, LONG_NOTE, "simulated", title="A suptitle")
    return fig


@pytest.mark.parametrize("build", [_busy, _shared_log_twin, _tipping])
def test_ticks_computed_once_per_layout_draw_the_same_picture(build):
    """Within trialkit's draw each axis's ticks are computed once per layout state instead
    of about 20 times: the picture is the same, pixel for pixel, as matplotlib's own draw
    of the same figure (and so are all 51 figures of the collection, checked when this
    was written)."""
    ours_fig, theirs_fig = build(), build()
    with drawing.measured_once() as drawn:
        ours_fig.canvas.draw()
    assert drawn.ticks and drawn.label_boxes  # kept: what the draw computed, after the layout
    theirs_fig.canvas.draw()
    ours = np.asarray(ours_fig.canvas.buffer_rgba())
    theirs = np.asarray(theirs_fig.canvas.buffer_rgba())
    assert ours.shape == theirs.shape and np.array_equal(ours, theirs)
    assert not drawing.DRAWS_UNDER_WAY  # nothing left behind
    plt.close(ours_fig)
    plt.close(theirs_fig)


def test_text_layouts_kept_across_draws_follow_every_change_of_a_text():
    """Text layouts are kept across draws and figures (``drawing.text_layout``), keyed by
    what a layout depends on. A text whose font size (changed in place), angle, alignment
    or string changes after a first draw is laid out afresh, and so is a new figure after
    the font a family name resolves to has changed (as seaborn's ``set_theme`` can do):
    each picture equals matplotlib's own draw of the same figure with the same history
    (no layout engine: the axes stay put)."""

    def build() -> tuple[Figure, matplotlib.text.Text]:
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([0, 1], [0, 1])
        label = ax.text(0.5, 0.5, "a label", ha="left")
        ax.set_xlabel("x label")
        return fig, label

    def same(ours: Figure, theirs: Figure) -> None:
        with drawing.measured_once():
            ours.canvas.draw()
        theirs.canvas.draw()
        a, b = np.asarray(ours.canvas.buffer_rgba()), np.asarray(theirs.canvas.buffer_rgba())
        assert a.shape == b.shape and np.array_equal(a, b)

    (ours, label), (theirs, their_label) = build(), build()
    same(ours, theirs)  # the layouts of this state are kept
    for change in (
        lambda t: t.set_fontsize(17),  # FontProperties changed in place
        lambda t: t.set_rotation(30),
        lambda t: t.set_horizontalalignment("right"),
        lambda t: t.set_text("another label, longer"),
    ):
        change(label)
        change(their_label)
        same(ours, theirs)
    with matplotlib.rc_context({"font.sans-serif": ["DejaVu Serif"]}):
        (new, new_label), (their_new, their_new_label) = build(), build()
        for t in (new_label, their_new_label):  # the texts laid out above, another font
            t.update({"fontsize": 17, "rotation": 30, "ha": "right", "text": label.get_text()})
        same(new, their_new)
    for fig in (ours, theirs, new, their_new):
        plt.close(fig)
