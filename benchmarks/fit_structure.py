"""The shape of a fit, measured: the estimator's size, the resolvers' calls,
the hand-offs of X and the reads of a chunked source.

    python benchmarks/fit_structure.py        # a few seconds

1. Code lines of ``AutoencoderTransformer`` (docstrings, comments and blank
   lines aside), with and without the persistence and repr methods.
2. Calls of the parameter resolvers in one default fit (``cProfile``).
3. Following X through a default fit of 2 epochs (PCA's solution kept) and
   one of 30 (the network kept): the files of sklearn_ae that X (the array
   passed, the checked array, or a ``RowDataset`` over it) is handed to as an
   argument other than ``self`` by a caller in another file (ours, or skorch
   calling the net's hooks); the count of returns to a file already left.
   Only files under the package's own directory count, so skorch, torch or
   scikit-learn never do, wherever they are installed.
4. Rows read from a dask array of 10 chunks (counted in the ``__getitem__`` of
   the array under it) by one- and four-epoch fits, in passes over the data.
"""

import ast
import cProfile
import inspect
import io
import os
import pstats
import sys
import tokenize

import numpy as np

import sklearn_ae
import sklearn_ae._autoencoder as face
import sklearn_ae._data as data_module
from sklearn_ae import AutoencoderTransformer

OTHERS = {  # methods that other modules own (persistence, ONNX, the repr)
    "save",
    "load",
    "export_onnx",
    "__getstate__",
    "__setstate__",
    "_fitted_state",
    "__repr__",
    "_get_params_html",
}
RESOLVERS = {"starts_at_pca", "resolve_batch_size", "n_validation_rows"}
PACKAGE = os.path.dirname(os.path.abspath(sklearn_ae.__file__)) + os.sep


def class_lines():
    source = inspect.getsource(face)
    cls = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.ClassDef) and node.name == "AutoencoderTransformer"
    )
    docs = set()
    for node in ast.walk(cls):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.update(range(first.lineno, first.end_lineno + 1))
    skip = {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENDMARKER,
    }
    code = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            code.update(
                line
                for line in range(tok.start[0], tok.end[0] + 1)
                if cls.lineno <= line <= cls.end_lineno and line not in docs
            )
    theirs = set()
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and node.name in OTHERS:
            first = node.lineno - len(node.decorator_list)
            theirs.update(range(first, node.end_lineno + 1))
    return len(code), len(code - theirs)


def data(n=3000):
    X = np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32)
    X[:, 4:] = np.tanh(X[:, :4]) ** 2
    return X


def resolver_calls():
    profile = cProfile.Profile()
    profile.enable()
    AutoencoderTransformer(random_state=0, max_iter=2).fit(data())
    profile.disable()
    calls = dict.fromkeys(sorted(RESOLVERS), 0)
    for (path, _, name), (_, n_calls, *_) in pstats.Stats(profile).stats.items():
        if name in RESOLVERS and "sklearn_ae" in path:
            calls[name] += n_calls
    return calls


def ours(path):
    """Whether the code at ``path`` is a file of sklearn_ae."""
    return os.path.abspath(path).startswith(PACKAGE)


def hand_offs(max_iter):
    X = data()
    holders = [X]

    def carries(value):
        if any(value is h for h in holders):
            return True
        inner = getattr(value, "X", None)
        return isinstance(value, data_module.RowDataset) and any(
            inner is h for h in holders
        )

    files = ["_autoencoder.py"]

    def follow(frame, event, arg):
        code = frame.f_code
        if not ours(code.co_filename):
            return
        if event == "return" and code.co_name == "check_X":
            holders.append(arg)
        caller = frame.f_back.f_code.co_filename if frame.f_back else ""
        if event != "call" or caller == code.co_filename:
            return
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        if any(carries(frame.f_locals.get(a)) for a in names if a != "self"):
            short = os.path.relpath(code.co_filename, PACKAGE)
            if files[-1] != short:
                files.append(short)

    ae = AutoencoderTransformer(random_state=0, max_iter=max_iter)
    sys.setprofile(follow)
    try:
        ae.fit(X)
    finally:
        sys.setprofile(None)
    returns = sum(f in files[:i] for i, f in enumerate(files))
    return files, returns, ae.best_epoch_


class _Counting:
    def __init__(self, X):
        self.X, self.shape, self.dtype, self.ndim = X, X.shape, X.dtype, X.ndim
        self.rows_read = 0

    def __getitem__(self, key):
        out = self.X[key]
        self.rows_read += len(out)
        return out


def dask_passes(epochs):
    import dask.array as da

    X = data(5000)
    source = _Counting(X)
    ae = AutoencoderTransformer(
        4, max_iter=epochs, n_iter_no_change=epochs, random_state=0
    ).fit(da.from_array(source, chunks=(500, 8), asarray=True))
    return source.rows_read / len(X), ae.best_epoch_


def main():
    total, own = class_lines()
    print(f"AutoencoderTransformer: {total} code lines, {own} without {OTHERS}")
    print(f"resolver calls in one default fit: {resolver_calls()}")
    for max_iter in (2, 30):
        files, returns, best = hand_offs(max_iter)
        print(f"X handed to (max_iter={max_iter}): {' -> '.join(files)}")
        print(f"  {len(set(files))} files, {returns} returns (best_epoch_={best})")
    for epochs in (1, 4):
        passes, best = dask_passes(epochs)
        print(
            f"{epochs}-epoch fit, 10-chunk dask array: {passes:.4f} reads"
            f" (best_epoch_={best})"
        )


if __name__ == "__main__":
    main()
