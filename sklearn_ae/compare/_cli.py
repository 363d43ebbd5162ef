"""The command line: ``python -m sklearn_ae.compare data.csv --target label``."""

import argparse
import math
import tempfile
from pathlib import Path

import numpy as np

from ._compare import _SPREAD, _TASKS, _format_value, compare

# -- the command line --------------------------------------------------------


def _pca(n_components, random_state, **_):
    from sklearn.decomposition import PCA

    return PCA(n_components=n_components, random_state=random_state)


def _truncated_svd(n_components, random_state, **_):
    from sklearn.decomposition import TruncatedSVD

    return TruncatedSVD(n_components=n_components, random_state=random_state)


def _kernel_pca(n_components, random_state, **_):
    from sklearn.decomposition import KernelPCA

    return KernelPCA(
        n_components=n_components,
        kernel="rbf",
        fit_inverse_transform=True,
        random_state=random_state,
    )


def _isomap(n_components, **_):
    from sklearn.manifold import Isomap

    return Isomap(n_components=n_components)


def _autoencoder(n_components, epochs, random_state, **_):
    from .._autoencoder import AutoencoderTransformer

    return AutoencoderTransformer(
        n_components=n_components, max_iter=epochs, random_state=random_state
    )


def _vae(n_components, epochs, random_state, **_):
    from .._autoencoder import AutoencoderTransformer

    return AutoencoderTransformer(
        n_components=n_components,
        variational=True,
        max_iter=epochs,
        random_state=random_state,
    )


def _umap(n_components, random_state, **_):
    try:
        from umap import UMAP
    except ImportError as exc:
        raise ImportError(
            "umap-learn is not installed (pip install umap-learn)"
        ) from exc
    # n_jobs=1: umap is sequential anyway once seeded, and says so otherwise
    return UMAP(n_components=n_components, random_state=random_state, n_jobs=1)


def _tsne(random_state, n_test, **_):
    from sklearn.manifold import TSNE

    return TSNE(
        n_components=2,
        perplexity=min(30.0, (n_test - 1) / 3),
        init="pca",
        random_state=random_state,
    )


METHODS = {
    "pca": _pca,
    "svd": _truncated_svd,
    "kernel-pca": _kernel_pca,
    "isomap": _isomap,
    "ae": _autoencoder,
    "vae": _vae,
    "umap": _umap,
    "tsne": _tsne,
}
"""``--methods`` name -> factory of an unfitted reducer.

A factory takes the keywords ``n_components``, ``epochs`` (of the
autoencoders), ``random_state`` and ``n_test`` (held-out rows) and ``**_`` for
those it does not use. ``kernel-pca`` is an RBF KernelPCA with
``fit_inverse_transform=True``; ``ae`` is
:class:`~sklearn_ae.AutoencoderTransformer` with its defaults, ``vae`` with
``variational=True``; ``tsne`` always has 2 components; ``umap`` needs the
``compare`` extra (umap-learn) and raises ImportError without it.
"""

DEFAULT_METHODS = "pca,ae,kernel-pca,isomap,umap,tsne"
"""The ``--methods`` the command line runs when it is not given."""


def _read(path, parser):
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - depends on the environment
        parser.error("reading a data file needs pandas: pip install pandas")

    if not path.is_file():
        parser.error(f"{path}: no such file.")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ".gz"):
            return pd.read_csv(path)
        if suffix == ".tsv":
            return pd.read_csv(path, sep="\t")
    except (ImportError, OSError, ValueError) as exc:  # no engine, bad file
        parser.error(f"cannot read {path.name}: {exc}")
    parser.error(
        f"{path.name}: unknown file type {suffix!r}; give a .csv, .tsv or .parquet "
        "file."
    )


def _preprocessor(frame, standardize):
    """ColumnTransformer: numeric columns imputed (+ scaled), categorical one-hot."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = list(frame.select_dtypes(include=["number", "bool"]).columns)
    categorical = list(
        frame.select_dtypes(include=["object", "category", "string"]).columns
    )
    dropped = [c for c in frame.columns if c not in numeric and c not in categorical]
    numeric_steps = [SimpleImputer(strategy="median")]
    if standardize:
        numeric_steps.append(StandardScaler())
    parts = [("numeric", make_pipeline(*numeric_steps), numeric)]
    if categorical:
        encoder = OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            max_categories=20,
            sparse_output=False,
        )
        parts.append(
            (
                "categorical",
                make_pipeline(SimpleImputer(strategy="most_frequent"), encoder),
                categorical,
            )
        )
    transformer = ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)
    return transformer, numeric, categorical, dropped


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an int, got {text!r}") from None


def _count(text):
    """argparse type: an int of at least 1."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _n_jobs(text):
    """argparse type: a positive int, or a negative one as joblib reads it."""
    value = _int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must not be 0 (1: no parallelism)")
    return value


def _fraction(text):
    """argparse type: a fraction strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0.0 < value < 1.0:  # False for nan
        raise argparse.ArgumentTypeError(
            f"must be a fraction between 0 and 1 (exclusive), got {text!r}"
        )
    return value


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_ae.compare",
        description="Compare dimension reducers on a CSV or parquet file: "
        "held-out reconstruction error, trustworthiness, continuity, kNN and "
        "linear-probe scores, times; writes results.md, results.csv, "
        "views.png and metrics.png.",
    )
    parser.add_argument("data", type=Path, help="a .csv, .tsv or .parquet file")
    parser.add_argument(
        "--target",
        help="column to predict from the codes (kNN and linear probe); it is "
        "not a feature. Without it, only unsupervised metrics",
    )
    parser.add_argument(
        "--drop",
        nargs="+",
        action="extend",
        default=[],
        metavar="COLUMN",
        help="columns to leave out (an id, a date, a leaking copy of the "
        "target); a row-index column (unnamed, or R's 'rownames', with one "
        "distinct value per row) is left out without asking",
    )
    parser.add_argument(
        "--n-components",
        type=_count,
        default=2,
        help="code size of every method (t-SNE always 2; default 2)",
    )
    parser.add_argument(
        "--methods",
        default=DEFAULT_METHODS,
        help=f"comma-separated, from {', '.join(METHODS)} (default "
        f"{DEFAULT_METHODS}; umap is skipped when umap-learn is absent)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("compare_output"),
        help="where results and figures go (default ./compare_output)",
    )
    parser.add_argument(
        "--test-size",
        type=_fraction,
        default=0.2,
        help="held-out fraction of the rows (default 0.2)",
    )
    parser.add_argument(
        "--repeats",
        type=_count,
        default=1,
        help="random training/held-out splits; more than 1 reports the mean "
        "and standard deviation of each number (default 1)",
    )
    parser.add_argument(
        "--n-neighbors",
        type=_count,
        default=5,
        help="neighbours of kNN, trustworthiness, continuity (default 5)",
    )
    parser.add_argument(
        "--epochs", type=_count, default=50, help="autoencoder epochs (default 50)"
    )
    parser.add_argument(
        "--task",
        choices=("auto", *_TASKS),
        default="auto",
        help="how the target is scored (default auto: class labels are "
        "classification, other floats regression)",
    )
    parser.add_argument(
        "--no-standardize",
        dest="standardize",
        action="store_false",
        help="do not standardise the numeric columns",
    )
    parser.add_argument(
        "--image-shape",
        help="HxW: rows are images of this shape; also draw reconstructions.png",
    )
    parser.add_argument(
        "--random-state", type=int, default=0, help="seed of everything (default 0)"
    )
    parser.add_argument(
        "--n-jobs",
        type=_n_jobs,
        default=None,
        help="fits run in parallel, at most one per method and split and one "
        "per CPU (-1: all CPUs; default 1)",
    )
    return parser, parser.parse_args(argv)


def _image_shape(text, parser):
    if text is None:
        return None
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        parser.error(f"--image-shape must look like 28x28, got {text!r}.")
    return height, width


def _cell(row, column, repeats):
    value = row[column]
    if column == "kept_pca":
        if not np.isfinite(value):
            return "-"
        if repeats == 1:
            return "yes" if value == 1 else "no"
        return f"{round(value * repeats)}/{repeats}"
    text = _format_value(column, value)
    spread = row.get(column + _SPREAD)
    if spread is not None and np.isfinite(spread):
        text += f" ± {_format_value(column, spread)}"
    return text


def format_markdown(result, extra=None):
    """A Markdown table of a :func:`compare` result, its notes and errors below.

    Numbers are rounded (scores to 3 decimals, the reconstruction error to 4
    significant digits, times to 0.01 s), NaN is ``-``; the ``note`` and
    ``error`` columns become a list under the table. A repeated comparison's
    cells read ``mean ± std`` (its ``_std`` columns join their values);
    ``kept_pca`` reads ``yes`` or ``no``, or ``3/5`` of the splits.

    Parameters
    ----------
    result : pandas.DataFrame
        What :func:`compare` returned.

    extra : dict, default=None
        Column name -> {reducer name: value}: more columns, e.g. epochs.

    Returns
    -------
    text : str
        The table (GitHub Markdown), then one line per note or error.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.preprocessing import scale
    >>> from sklearn_ae.compare import compare, format_markdown
    >>> X, y = load_wine(return_X_y=True)
    >>> result = compare({"PCA": PCA(2)}, scale(X), y, random_state=0,
    ...                  metrics=["trustworthiness", "knn"])
    >>> print(format_markdown(result.drop(columns=["fit_time", "transform_time"])))
    | reducer | n_components | trustworthiness | knn_accuracy |
    |---|---|---|---|
    | PCA | 2 | 0.930 | 0.972 |
    """
    details = result.attrs.get("details")
    repeats = getattr(details, "repeats", 1)
    columns = [
        c
        for c in result.columns
        if c not in ("note", "error")
        and not (c.endswith(_SPREAD) and c[: -len(_SPREAD)] in result.columns)
    ]
    extra = extra or {}
    header = ["reducer", *columns, *extra]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in result.iterrows():
        cells = [str(name)] + [_cell(row, c, repeats) for c in columns]
        cells += [
            "-" if extra[c].get(name) is None else str(extra[c][name]) for c in extra
        ]
        lines.append("| " + " | ".join(cells) + " |")
    remarks = [
        f"- {name} ({kind}): {row[kind]}"
        for name, row in result.iterrows()
        for kind in ("error", "note")
        if row.get(kind)
    ]
    if remarks:
        lines += ["", *remarks]
    return "\n".join(lines)


def main(argv=None):
    """Run the command line; returns ``(result, written files)``. See ``--help``.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments; None reads ``sys.argv``.

    Returns
    -------
    result : pandas.DataFrame
        What :func:`compare` returned.

    written : list of pathlib.Path
        ``results.csv``, ``results.md`` and the figures.

    Examples
    --------
    >>> import contextlib, io, tempfile
    >>> from pathlib import Path
    >>> from sklearn.datasets import load_wine
    >>> from sklearn_ae.compare import main
    >>> folder = Path(tempfile.mkdtemp())
    >>> load_wine(as_frame=True).frame.to_csv(folder / "wine.csv", index=False)
    >>> argv = [str(folder / "wine.csv"), "--target", "target",
    ...         "--methods", "pca,isomap", "--output-dir", str(folder)]
    >>> with contextlib.redirect_stdout(io.StringIO()) as printed:
    ...     result, written = main(argv)
    >>> print(printed.getvalue().splitlines()[0])
    wine.csv: 178 rows; 13 numeric columns (standardised), 0 categorical \
(one-hot); target 'target'.
    >>> result.loc["pca", ["trustworthiness", "knn_accuracy"]].round(3).tolist()
    [0.931, 0.972]
    >>> [path.name for path in written]
    ['results.csv', 'results.md', 'views.png', 'metrics.png']
    """
    parser, args = _parse(argv)
    image_shape = _image_shape(args.image_shape, parser)
    names = [name.strip() for name in args.methods.split(",") if name.strip()]
    unknown = [name for name in names if name not in METHODS]
    if unknown or not names:
        parser.error(
            f"unknown methods {unknown}; choose from {', '.join(METHODS)}."
            if unknown
            else "--methods is empty."
        )
    frame = _read(args.data, parser)
    frame, left_out = _leave_out(frame, args, parser)
    if args.target is not None:
        missing = frame[args.target].isna()
        if missing.all():
            parser.error(
                f"target column {args.target!r} is empty: none of the "
                f"{len(frame)} rows of {args.data.name} has a value."
            )
        if missing.any():
            print(f"Dropped {int(missing.sum())} rows without a {args.target!r}.")
            frame = frame[~missing]
    features = frame.drop(columns=[args.target]) if args.target else frame
    empty = [c for c in features.columns if features[c].isna().all()]
    if empty:
        left_out.append(f"{_names(empty)}: empty")
        features = features.drop(columns=empty)
    preprocessor, numeric, categorical, dropped = _preprocessor(
        features, args.standardize
    )
    if not numeric:
        parser.error(
            f"{args.data.name} has no numeric column"
            + (" besides the target" if args.target else "")
            + f" (columns: {', '.join(map(str, features.columns))}); "
            "compare needs numbers."
        )
    n_test = max(1, math.ceil(args.test_size * len(frame)))
    reducers = {}
    for name in names:
        try:
            reducers[name] = METHODS[name](
                n_components=args.n_components,
                epochs=args.epochs,
                random_state=args.random_state,
                n_test=n_test,
            )
        except ImportError as exc:
            print(f"Skipped {name}: {exc}.")
    if not reducers:
        parser.error("no method left to compare.")
    _check_output_dir(args.output_dir, parser)  # before minutes of fitting
    print(
        f"{args.data.name}: {len(frame)} rows; {len(numeric)} numeric columns"
        f"{' (standardised)' if args.standardize else ''}, "
        f"{len(categorical)} categorical (one-hot)"
        + (f", ignored: {', '.join(map(str, dropped))}" if dropped else "")
        + (f"; target {args.target!r}" if args.target else "; no target")
        + "."
    )
    filled = _filled(features, numeric, categorical)
    for line in [f"Left out {what}." for what in left_out] + filled:
        print(line)
    try:
        result = compare(
            reducers,
            features,
            None if args.target is None else frame[args.target],
            test_size=args.test_size,
            repeats=args.repeats,
            n_neighbors=args.n_neighbors,
            task=args.task,
            preprocessor=preprocessor,
            random_state=args.random_state,
            n_jobs=args.n_jobs,
            verbose=1,
        )
    except ValueError as exc:
        parser.error(str(exc))
    details = result.attrs["details"]
    table = format_markdown(result)
    print(f"\n{table}\n")

    output_dir = args.output_dir
    written = [output_dir / "results.csv", output_dir / "results.md"]
    result.to_csv(written[0])
    target = f"target {args.target!r} ({details.task})" if args.target else "no target"
    splits = (
        f", {args.repeats} random splits (mean ± standard deviation)"
        if args.repeats > 1
        else ""
    )
    about = " ".join([f"Left out {what}." for what in left_out] + filled)
    written[1].write_text(
        f"Data: {args.data.name}, {len(frame)} rows: {len(details.train_index)} "
        f"to fit, {len(details.test_index)} held out{splits}; {len(numeric)} "
        f"numeric columns{' (standardised)' if args.standardize else ''}, "
        f"{len(categorical)} categorical (one-hot); {target}; "
        f"n_neighbors={args.n_neighbors}, random_state={args.random_state}."
        + (f" {about}" if about else "")
        + f"\n\n{table}\n"
    )
    try:
        written += _write_figures(
            result,
            features,
            None if args.target is None else frame[args.target],
            image_shape,
            output_dir,
        )
    except ImportError as exc:
        print(f"No figures: {exc}")
    print(f"Wrote to {output_dir.resolve()}:")
    for path in written:
        print(f"  {path.name}")
    return result, written


def _names(columns):
    return ", ".join(repr(str(c)) for c in columns)


_ROW_INDEX_NAMES = ("Unnamed: 0", "rownames", "__index_level_0__")
"""First-column names of a written-out row index.

pandas' ``to_csv`` writes its index as a first column without a header,
which ``read_csv`` names ``Unnamed: 0`` (R's ``write.csv`` does the same with
its row names); Rdatasets' CSV files call it ``rownames``; pyarrow keeps an
index as ``__index_level_0__``.
"""


def _row_index(frame):
    """The first column if it only numbers or names the rows, else None."""
    if frame.shape[1] < 2:
        return None
    first = frame.columns[0]
    if str(first) not in _ROW_INDEX_NAMES:
        return None
    values = frame[first]
    if values.isna().any() or not values.is_unique:
        return None  # not a row index: it stays a feature
    return first


def _leave_out(frame, args, parser):
    """Drop the row-index column and ``--drop``'s; say what, in words."""
    left_out = []
    index = _row_index(frame)
    if index is not None and index != args.target and index not in args.drop:
        left_out.append(f"{_names([index])}: a row index, one distinct value per row")
        frame = frame.drop(columns=index)
    if args.target is not None and args.target not in frame.columns:
        parser.error(
            f"target column {args.target!r} is not in {args.data.name}; its "
            f"columns are: {', '.join(map(str, frame.columns))}."
        )
    if args.drop:
        unknown = [c for c in args.drop if c not in frame.columns]
        if unknown:
            parser.error(
                f"argument --drop: {_names(unknown)} not in {args.data.name}; "
                f"its columns are: {', '.join(map(str, frame.columns))}."
            )
        if args.target in args.drop:
            parser.error(f"argument --drop: {args.target!r} is the --target column.")
        drop = list(dict.fromkeys(args.drop))
        left_out.append(f"{_names(drop)}: --drop")
        frame = frame.drop(columns=drop)
    return frame, left_out


def _filled(features, numeric, categorical):
    """Lines saying how many missing cells the preprocessor fills, and how."""
    lines = []
    for columns, how in (
        (numeric, "the column's median"),
        (categorical, "the column's most frequent value"),
    ):
        counts = features[columns].isna().sum()
        counts = counts[counts > 0]
        if len(counts):
            total = int(counts.sum())
            each = ", ".join(f"{int(n)} in {str(c)!r}" for c, n in counts.items())
            lines.append(
                f"Filled {total} missing cell{'s' * (total != 1)} ({each}) with "
                f"{how} over the training rows."
            )
    return lines


def _check_output_dir(path, parser):
    """Create ``--output-dir`` and write a probe into it, or stop with why."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        parser.error(f"argument --output-dir: {path} exists and is not a folder.")
    except NotADirectoryError:
        parser.error(
            f"argument --output-dir: {path} cannot be made: a part of it is a "
            "file, not a folder."
        )
    except OSError as exc:
        parser.error(f"argument --output-dir: cannot make {path}: {exc.strerror}.")
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        parser.error(
            f"argument --output-dir: cannot write into {path}: {exc.strerror}."
        )


def _write_figures(result, X, y, image_shape, output_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plotting import plot_comparison

    written = []
    figures = plot_comparison(result, X, y, image_shape=image_shape)
    for name, fig in figures.items():
        path = output_dir / f"{name}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)
    return written
