"""How trialkit's figures are drawn: laid out at draw time, drawn once into the notebook.

matplotlib is used as it is; what this module adds is the order and the bookkeeping:

- ``TightLayoutMeasuredOnce``: matplotlib's tight layout (kept clear of the caption and
  the title that ``plots.caption`` adds), measuring every artist once per layout instead
  of twice;
- ``one_draw_png`` (installed by ``use_one_draw_png`` for IPython's inline backend): a
  captioned figure drawn once at its own size, instead of three times for IPython's
  default "tight" box, and laid out a second time only when something sticks out;
- ``measured_once``: within one such draw, what matplotlib computes again and again
  (each axis's ticks and tick label boxes, each text's layout) computed once while
  nothing has moved;
- ``png_opaque_as_rgb``: the PNG written without an alpha channel an opaque figure does
  not need;
- ``draw_after_display``: the inline backend's display before matplotlib's redraw of
  stale figures, so a figure a cell leaves is not drawn twice.

Every picture is the one matplotlib draws itself (``tests/test_plots_layout.py`` compares
them pixel for pixel); only the work to get it is less.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.layout_engine import TightLayoutEngine

__all__ = [
    "DrawnOnce",
    "TightLayoutMeasuredOnce",
    "draw_after_display",
    "drawn_box",
    "measured_once",
    "one_draw_png",
    "png_opaque_as_rgb",
    "sticks_out",
    "text_layout",
    "use_one_draw_png",
]


class TightLayoutMeasuredOnce(TightLayoutEngine):
    """Matplotlib's tight layout, with every artist measured once per layout.

    To fit the Axes into a ``rect`` (here: above the caption, under the title), matplotlib
    runs its layout twice, measuring every Axes, tick label and legend both times; nothing
    moves between the two runs, so the second measurement repeats the first. Here it is
    taken from the first: the same layout (``tests/test_plots_layout.py`` checks it against
    matplotlib's own) for half the measuring.
    """

    def execute(self, fig: Figure) -> None:
        import matplotlib.artist as martist

        measure = martist._get_tightbbox_for_layout_only
        seen: dict[int, Any] = {}

        def measured_first(obj: Any, *args: Any, **kwargs: Any) -> Any:
            if id(obj) not in seen:
                seen[id(obj)] = measure(obj, *args, **kwargs)
            return seen[id(obj)]

        martist._get_tightbbox_for_layout_only = measured_first
        try:
            super().execute(fig)
        finally:
            martist._get_tightbbox_for_layout_only = measure
            for drawn in DRAWS_UNDER_WAY:  # the axes have moved: their ticks are to compute again
                drawn.forget()


def one_draw_png(fig: Figure, fallback: Any) -> str | None:
    """A figure as base64 PNG for IPython, drawn once at its own size.

    For figures laid out by ``plots.caption`` (the layout done at draw time): matplotlib's
    "tight" bounding box, IPython's default, would draw such a figure twice more (once to
    find the box, once to lay it out) for the same picture. When the draw leaves something
    outside the figure (measured after it, without drawing again), the figure is laid out
    and drawn a second time; if something is still outside, it goes to IPython's own
    formatter (``fallback``), as does any figure trialkit did not lay out.
    """
    import base64
    import io

    if not isinstance(fig.get_layout_engine(), TightLayoutMeasuredOnce):
        return fallback(fig)
    for _layout_pass in range(2):
        buf = io.BytesIO()
        with measured_once():
            png_opaque_as_rgb(fig, buf)
            inside = not sticks_out(fig)  # measured with what the draw measured
        if inside:
            return base64.b64encode(buf.getvalue()).decode("ascii")
    # tight layout is one pass: a title taller than the room it was measured with can stick
    # out after the first, and a second, from the first one's positions, brings it in (as
    # matplotlib's own tight_layout called twice); a title wider than its narrowed axes
    # sticks out whatever the pass: then the tight box (IPython's default) keeps all of it
    return fallback(fig)


def sticks_out(fig: Figure) -> bool:
    """Whether anything of a just-drawn figure lies outside it (by more than a pixel);
    measured from the draw's own renderer, without drawing again (``drawn_box``)."""
    box = drawn_box(fig)
    width, height = fig.get_size_inches()
    pixel = 1 / fig.dpi
    return box.x0 < -pixel or box.y0 < -pixel or box.x1 > width + pixel or box.y1 > height + pixel


def drawn_box(fig: Figure) -> Any:
    """The box around everything of a just-drawn figure, in inches (``get_tightbbox``).

    Called within the draw's ``measured_once``, it takes each axis's ticks and tick
    label boxes from the draw (nothing has moved since): recomputing them was most of the
    cost of this check (1.1 s over the collection's figures, a fifth of their drawing).
    """
    return fig.get_tightbbox(fig.canvas.get_renderer())


class DrawnOnce:
    """Per axis, what matplotlib computes many times within one figure's draw, kept while
    the axes stay where they are.

    Matplotlib computes an axis's ticks (locator, formatter, a Tick object per tick) and
    measures its tick labels each time something asks: the axis's own measurement and
    drawing, the titles' placement, every axis that lines its label up with it; about 20
    times per axis and draw, for the same ticks, since nothing moves within a draw but
    the layout. The layout (``TightLayoutMeasuredOnce``) calls ``forget`` when it has
    moved the axes.
    """

    def __init__(self) -> None:
        self.ticks: dict[Any, Any] = {}  # axis -> its ticks (``Axis._update_ticks``)
        self.label_boxes: dict[Any, Any] = {}  # (axis, renderer) -> its tick labels' boxes

    def forget(self) -> None:
        self.ticks.clear()
        self.label_boxes.clear()


DRAWS_UNDER_WAY: list[DrawnOnce] = []  # the draws under way (one here), for the layout


@contextlib.contextmanager
def measured_once() -> Iterator[DrawnOnce]:
    """Within (one figure's draw and its measurement after): each axis's ticks computed, and
    its tick labels measured, once while the axes stay where they are (``DrawnOnce``;
    yielded: after the draw, what it drew); and each text's layout (``text_layout``)
    taken from the texts already laid out with the same inputs."""
    from matplotlib.axis import Axis
    from matplotlib.text import Text

    update, boxes, layout = Axis._update_ticks, Axis._get_ticklabel_bboxes, Text._get_layout
    kept = DrawnOnce()

    def ticks_once(axis: Axis) -> Any:
        if axis not in kept.ticks:
            kept.ticks[axis] = update(axis)
        return kept.ticks[axis]

    def boxes_once(axis: Axis, ticks: Any, renderer: Any = None) -> Any:
        # a tick label's box follows from its tick (kept above) and the renderer; any
        # other ticks (a caller's own list) are measured as matplotlib would
        key = (axis, id(renderer))
        if ticks is not kept.ticks.get(axis) or renderer is None:
            return boxes(axis, ticks, renderer)
        if key not in kept.label_boxes:
            kept.label_boxes[key] = boxes(axis, ticks, renderer)
        first, second = kept.label_boxes[key]
        return list(first), list(second)  # callers get lists of their own

    def layout_once(text: Text, renderer: Any) -> Any:
        return text_layout(text, renderer, layout)

    Axis._update_ticks = ticks_once  # type: ignore[method-assign]
    Axis._get_ticklabel_bboxes = boxes_once  # type: ignore[method-assign]
    Text._get_layout = layout_once  # type: ignore[method-assign]
    DRAWS_UNDER_WAY.append(kept)
    try:
        yield kept
    finally:
        DRAWS_UNDER_WAY.remove(kept)
        Axis._update_ticks = update  # type: ignore[method-assign]
        Axis._get_ticklabel_bboxes = boxes  # type: ignore[method-assign]
        Text._get_layout = layout  # type: ignore[method-assign]


LAYOUTS: dict[tuple[Any, ...], Any] = {}  # a text's layout by everything it depends on
LAYOUTS_KEPT = 20_000  # at most (a notebook of the collection lays out 90-180 distinct texts)


def text_layout(text: Any, renderer: Any, layout: Any) -> Any:
    """``Text._get_layout``: the text's box and lines relative to its anchor, which do not
    depend on where the text is; kept by everything they depend on (the string, the font
    and the files it resolves to, the angle, the alignments, the line spacing, the dpi and
    the renderer's kind), so the same tick label, laid out again after the layout moved
    its axis or in the next figure, is not measured again (matplotlib keeps the font
    metrics per renderer, and each figure has its own). Texts that wrap or use TeX or
    mathtext are laid out as matplotlib does.
    """
    import matplotlib as mpl
    from matplotlib.font_manager import fontManager
    from matplotlib.transforms import Bbox

    string = text.get_text()
    if text.get_wrap() or text.get_usetex() or "$" in string:
        return layout(text, renderer)
    font = text._fontproperties
    key = (
        string,
        (
            tuple(font.get_family()), font.get_slant(), font.get_variant(), font.get_weight(),
            font.get_stretch(), font.get_size(), font.get_file(), font.get_math_fontfamily(),
        ),
        # the font files the renderer will use (a generic family resolves through rcParams)
        tuple(fontManager._find_fonts_by_props(font)),
        text.get_rotation(), text.get_rotation_mode(), text._get_multialignment(),
        text._horizontalalignment, text._verticalalignment, text._linespacing,
        text.get_figure(root=True).dpi, type(renderer), renderer.dpi,
        mpl.rcParams["text.hinting"], mpl.rcParams["text.hinting_factor"],
        mpl.rcParams["text.kerning_factor"],
    )  # fmt: skip
    if key not in LAYOUTS:
        if len(LAYOUTS) >= LAYOUTS_KEPT:
            LAYOUTS.clear()
        LAYOUTS[key] = layout(text, renderer)
    box, lines, descent = LAYOUTS[key]
    return Bbox(box.get_points().copy()), list(lines), descent  # the caller's own box


def png_opaque_as_rgb(fig: Figure, buf: Any) -> None:
    """Draw ``fig`` once and write it to ``buf`` as PNG, at the figure's own size and dpi.

    The same picture as matplotlib's ``print_png``, written with less work: an opaque image
    (every figure here: white background) is stored without its alpha channel, a quarter
    of the bytes, and zlib runs at level 3 instead of Pillow's 6. Measured on the
    collection's 51 figures: encoding 0.43 s against 0.82 s, files 8% smaller. An image
    with any transparency keeps its alpha channel.
    """
    from PIL import Image

    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    image = Image.fromarray(rgba, "RGBA")
    if rgba[..., 3].min() == 255:
        image = image.convert("RGB")
    image.save(buf, format="png", compress_level=3, dpi=(fig.dpi, fig.dpi))


def draw_after_display(shell: Any) -> None:
    """After a cell, show figures before matplotlib redraws the stale ones, not after.

    With the inline backend, matplotlib's post-cell hook (``_draw_all_if_interactive``)
    draws every figure still open and changed, then the inline backend's hook
    (``flush_figures``) displays them, which draws them again: every figure a cell leaves
    for display was drawn twice (measured: 10 of 51 figures, 1.2 s). With the display
    first, the figures are displayed and closed (or, if the backend keeps them, left
    drawn, so not stale), and the redraw finds nothing to do. The picture is the same.
    """
    callbacks = shell.events.callbacks.get("post_execute", [])
    redraw = plt._draw_all_if_interactive
    flush = sys.modules.get("matplotlib_inline.backend_inline")
    flush = getattr(flush, "flush_figures", None)
    order = [redraw in callbacks, flush in callbacks]
    if all(order) and callbacks.index(redraw) < callbacks.index(flush):
        shell.events.unregister("post_execute", redraw)
        shell.events.register("post_execute", redraw)


def use_one_draw_png() -> None:
    """In IPython with the inline backend's plain PNG output: draw trialkit's figures once.

    Leaves any other set-up alone (retina, SVG, any ``print_figure_kwargs`` beyond the
    default ``bbox_inches="tight"``, no IPython).
    """
    from functools import partial

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython else None
    if shell is None:
        return
    draw_after_display(shell)
    formatter = shell.display_formatter.formatters["image/png"]
    current = formatter.type_printers.get(Figure)
    if current is None or getattr(current, "func", None) is one_draw_png:
        return
    from IPython.core.pylabtools import print_figure

    plain = (
        isinstance(current, partial)
        and current.func is print_figure
        and current.keywords.get("fmt") == "png"
        and current.keywords.get("bbox_inches", "tight") in ("tight", None)
        and set(current.keywords) <= {"fmt", "base64", "bbox_inches"}
    )
    if plain:
        formatter.for_type(Figure, partial(one_draw_png, fallback=current))
