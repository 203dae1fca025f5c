"""Sphinx configuration of the course site (copied into the site's source folder by
``trialkit.site``; the per-build values come from ``site.json`` next to this file).

Sphinx considers the book theme's configuration changed on every build (the theme edits
it), so ``trialkit.site`` skips Sphinx when no source changed.

Offline by design: MathJax 2.7 is served from the site itself (``_static/mathjax``, copied
from the ``jupyter-server-mathjax`` package), the theme bundles its fonts, and notebooks
are never executed here (``nb_execution_mode = "off"``: the runner executed them).
"""

import json
from pathlib import Path

_site = json.loads((Path(__file__).parent / "site.json").read_text(encoding="utf-8"))

project = _site["project"]
author = _site["author"]
copyright = _site["copyright"]
html_title = _site["title"]
root_doc = "index"
language = "en"
smartquotes = False  # a page's title is the notebook's, character for character

extensions = ["myst_nb", "sphinxcontrib.bibtex"]
exclude_patterns = ["**.ipynb_checkpoints"]

# notebooks: executed by trialkit's runner, never here
nb_execution_mode = "off"
nb_execution_cache_path = str(Path(__file__).parent.parent / "jupyter_cache")  # unused
nb_merge_streams = True
nb_render_markdown_format = "myst"  # Markdown a notebook writes gets math too
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
myst_update_mathjax = False  # it writes a MathJax 3 configuration; ours is MathJax 2
html_context = {"default_mode": "light"}  # no "invalid theme mode" error from file://
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header", "misc.highlighting_failure"]

# math: a local MathJax 2.7 (TeX input, HTML-CSS output with its bundled STIX web fonts)
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "tex2jax": {
        "inlineMath": [["\\(", "\\)"]],
        "displayMath": [["\\[", "\\]"]],
        "processEscapes": True,
        "ignoreClass": "tex2jax_ignore|mathjax_ignore",
        "processClass": "tex2jax_process|mathjax_process|math|output_area",
    },
    "HTML-CSS": {
        "availableFonts": [],
        "preferredFont": None,
        "webFont": "STIX-Web",
        "imageFont": None,
        # MathJax's placeholder font is url('about:blank'), which Chromium refuses (a
        # console error) on file:// pages; a local() font name loads nothing at all
        "styles": {"@font-face": {"font-family": "MathJax_Blank", "src": "local('MathJax_Blank')"}},
    },
    "showMathMenu": False,
    "messageStyle": "none",
}

# bibliography: one references file for the whole collection
bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "plain"
bibtex_reference_style = "author_year"

# pages
html_theme = "sphinx_book_theme"
html_copy_source = True  # each page offers its notebook for download (_sources/NAME.ipynb)
html_sourcelink_suffix = ""
html_show_sphinx = False
html_css_files = ["trialkit.css"]  # copied into _static/ by trialkit.site
html_last_updated_fmt = None
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
    "show_navbar_depth": 1,
}
if _site.get("repository"):
    html_theme_options.update(
        {
            "repository_url": f"https://github.com/{_site['repository']}",
            "repository_branch": _site.get("branch", "main"),
            "path_to_docs": "notebooks",
            "launch_buttons": {
                "binderhub_url": "https://mybinder.org",
                "notebook_interface": "jupyterlab",
            },
        }
    )
