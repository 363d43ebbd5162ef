"""Compare dimension reducers on your own data.

:func:`compare` fits each reducer of a dict (PCA, KernelPCA, Isomap, UMAP,
t-SNE, an :class:`~sklearn_ae.AutoencoderTransformer`, a Pipeline ending in
one, ...) on the same training rows and measures it on the same held-out rows:
reconstruction error, trustworthiness and continuity of the codes, how well a
k-nearest-neighbours model and a linear model predict ``y`` from the codes, and
the time taken. It returns a pandas DataFrame, one row per reducer;
:func:`sklearn_ae.plotting.plot_comparison` draws it.

The command line does the same for a CSV or parquet file::

    python -m sklearn_ae.compare data.csv --target label --n-components 8 \\
        --methods pca,ae,kernel-pca,isomap,umap,tsne --output-dir compare_output

It uses the file's numeric columns (standardised) and one-hot encodes its
categorical ones, then writes ``results.md``, ``results.csv``, ``views.png``
and ``metrics.png`` into ``--output-dir``. ``python -m sklearn_ae.compare
--help`` lists the options.

``sklearn_ae.compare`` is this module, and calling it calls :func:`compare`:
``from sklearn_ae import compare; compare(reducers, X, y)`` and ``python -m
sklearn_ae.compare`` both work, and the name means one object whatever was
imported first.
"""

import inspect
import sys
import types

from ._cli import DEFAULT_METHODS, METHODS, format_markdown, main
from ._compare import METRICS, ComparisonDetails, compare

__all__ = [
    "DEFAULT_METHODS",
    "METHODS",
    "METRICS",
    "ComparisonDetails",
    "compare",
    "format_markdown",
    "main",
]


class _CallableModule(types.ModuleType):
    """The module ``sklearn_ae.compare``, which ``compare(...)`` also calls."""

    def __call__(self, *args, **kwargs):
        return compare(*args, **kwargs)


__signature__ = inspect.signature(compare)  # what help() and IDEs show for a call
sys.modules[__name__].__class__ = _CallableModule
