"""Sphinx configuration of the sklearn_ae documentation.

Build it (from the repository root) with::

    pip install -e ".[docs]"
    SKLEARN_AE_EXAMPLES_QUICK=1 sphinx-build -W --keep-going -b html \
        docs docs/_build/html

``SKLEARN_AE_EXAMPLES_QUICK=1`` runs every example of the gallery in its
seconds-long mode (what CI does); without it the gallery runs the examples in
full (minutes each on a CPU); ``-D plot_gallery=0`` skips running them. The
build needs no network: intersphinx only reads inventories saved under
``docs/_inventories/`` (none are shipped yet, so names from other projects are
shown as code, not linked).
"""

import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

QUICK = os.environ.get("SKLEARN_AE_EXAMPLES_QUICK") == "1"
# The examples save their figures here (they also show them in the gallery).
os.environ.setdefault(
    "SKLEARN_AE_EXAMPLES_OUTPUT", str(HERE / "_build" / "examples_output")
)

# -- Project ------------------------------------------------------------------

project = "sklearn_ae"
author = "The sklearn_ae developers"
copyright = "The sklearn_ae developers"
release = re.search(
    r'__version__ = "([^"]+)"', (ROOT / "sklearn_ae" / "_version.py").read_text()
).group(1)
version = release

# -- General ------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_inventories",
    "Thumbs.db",
    ".DS_Store",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.md5",
    "auto_examples/*.codeobj.json",
]

default_role = "literal"
nitpicky = False
suppress_warnings = []

# -- autodoc, autosummary, numpydoc -------------------------------------------

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": "Module, object"}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# Every public function and class has an Examples section (EX01), checked on
# every object the API reference documents. Not checked: the methods that
# AutoencoderTransformer inherits from scikit-learn; data constants; the
# modules' encode / decode / encode_distribution / forward, which their
# class's Examples show; demo.main, which runs the whole demo (the module's
# docstring gives its command line).
numpydoc_validation_checks = {"EX01"}
numpydoc_validation_exclude = {
    r"\.[A-Z][A-Z0-9_]*$",
    r"Autoencoder\.(encode|decode|encode_distribution|forward)$",
    r"^sklearn_ae\.demo\.main$",
    r"\.get_params$",
    r"\.set_params$",
    r"\.set_output$",
    r"\.get_metadata_routing$",
    r"\.get_feature_names_out$",
    r"\.set_\w+_request$",
}

# -- intersphinx: offline only ------------------------------------------------
# Each entry reads a saved objects.inv and never the network. To add one, save
# e.g. https://scikit-learn.org/stable/objects.inv as _inventories/sklearn.inv.
_INVENTORIES = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "scipy": "https://docs.scipy.org/doc/scipy/",
    "sklearn": "https://scikit-learn.org/stable/",
    "torch": "https://docs.pytorch.org/docs/stable/",
    "skorch": "https://skorch.readthedocs.io/en/stable/",
    "matplotlib": "https://matplotlib.org/stable/",
}
intersphinx_mapping = {
    name: (url, str(HERE / "_inventories" / f"{name}.inv"))
    for name, url in _INVENTORIES.items()
    if (HERE / "_inventories" / f"{name}.inv").exists()
}

# -- MyST ---------------------------------------------------------------------

myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3

# -- sphinx-gallery -----------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Every examples/plot_*.py is run (tests/test_examples.py checks that all
    # examples match and that the pattern is this one).
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("sklearn_ae",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"sklearn_ae": None},
    "image_scrapers": ("matplotlib",),
    "show_memory": False,
    "min_reported_time": 1,
    "remove_config_comments": True,
    "capture_repr": ("_repr_html_", "__repr__"),
}

# -- HTML ---------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn_ae {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_sidebars = {"index": [], "changelog": []}
html_show_sourcelink = True


# Methods inherited from scikit-learn (get_metadata_routing, set_output, ...)
# refer to labels of scikit-learn's own documentation; without its inventory
# (docs/_inventories/sklearn.inv) they cannot resolve, so their :ref: roles are
# shown as plain text.
_REF_ROLE = re.compile(r":ref:`([^`<]+?)\s*(?:<[^`>]+>)?`")


def _unlink_sklearn_refs(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("sklearn.") and "sklearn" not in intersphinx_mapping:
        lines[:] = [_REF_ROLE.sub(r"\1", s) for s in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _unlink_sklearn_refs, priority=400)
