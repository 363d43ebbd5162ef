"""Whole pipelines to ONNX through skl2onnx.

Importing this module registers :class:`~sklearn_ae.AutoencoderTransformer`
with `skl2onnx <https://onnx.ai/sklearn-onnx/>`_, as onnxmltools does for
LightGBM and XGBoost, so that ``skl2onnx.to_onnx`` converts any Pipeline or
ColumnTransformer that holds a fitted autoencoder::

    import sklearn_ae.onnx  # noqa: F401  (registers the converter)
    from skl2onnx import to_onnx

    onx = to_onnx(pipeline, X[:1].astype("float32"))

The autoencoder's step is the graph of
:meth:`~sklearn_ae.AutoencoderTransformer.export_onnx` (``part="encoder"``:
the input scaling, the encoder, the codes in ``transform``'s units; a
variational autoencoder's posterior mean), embedded in skl2onnx's graph with
its names made unique. The graph computes in float32; double input is cast
to float32 and the codes back to double. Needs onnx, onnxscript and skl2onnx
(the ``onnx`` extra: ``pip install -e ".[onnx]"`` in a checkout), and a
target opset of 18 or newer (skl2onnx's default is).
"""

from ._autoencoder import AutoencoderTransformer
from ._io._onnx import graph_arguments, onnx_model

try:
    import onnx
    from onnx import inliner, numpy_helper
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "sklearn_ae.onnx needs the optional dependencies onnx, onnxscript and "
        "skl2onnx: pip install onnx onnxscript onnxruntime skl2onnx"
    ) from exc

__all__ = ["register"]

ALIAS = "SklearnAEAutoencoderTransformer"


def _shape_calculator(operator):
    """Codes: ``(batch, n_components_)``, in the input's float type."""
    estimator = operator.raw_operator
    (source,) = operator.inputs
    if not isinstance(source.type, (FloatTensorType, DoubleTensorType)):
        raise TypeError(
            "AutoencoderTransformer's ONNX graph takes float or double input; "
            f"got {type(source.type).__name__}."
        )
    batch = source.type.shape[0] if source.type.shape else None
    operator.outputs[0].type = type(source.type)([batch, estimator.n_components_])


def _inputs(node, name, scope, container):
    """The node's inputs renamed, with no omitted optional input ("").

    skl2onnx orders the nodes by their input names and takes an empty name
    for a missing tensor: trailing ones are dropped; a recurrent node's
    omitted ``sequence_lens`` (before its initial states) is given
    explicitly, every sequence at full length, which means the same.
    """
    names = list(node.input)
    while names and names[-1] == "":
        names.pop()
    renamed = []
    for index, old in enumerate(names):
        if old:
            renamed.append(name(old))
        elif node.domain == "" and node.op_type in _RECURRENT and index == 4:
            renamed.append(_full_lengths(node, renamed[0], scope, container))
        else:
            raise NotImplementedError(
                f"the autoencoder's graph omits input {index} of a "
                f"{node.op_type} node, which the skl2onnx converter cannot "
                "embed yet."
            )
    return renamed


_RECURRENT = ("LSTM", "GRU", "RNN")


def _full_lengths(node, sequences, scope, container):
    """``sequence_lens`` of a recurrent node: the sequence length per row."""
    layout = next((a.i for a in node.attribute if a.name == "layout"), 0)
    time, batch = (1, 0) if layout else (0, 1)
    names = [
        scope.get_unique_variable_name(f"ae_{n}")
        for n in ("time", "batch", "time_int32", "sequence_lens")
    ]
    for axis, output in ((time, names[0]), (batch, names[1])):
        container.add_node(
            "Shape",
            sequences,
            output,
            name=scope.get_unique_operator_name("AEShape"),
            start=axis,
            end=axis + 1,
        )
    container.add_node(
        "Cast",
        names[0],
        names[2],
        name=scope.get_unique_operator_name("AECast"),
        to=onnx.TensorProto.INT32,
    )
    container.add_node(
        "Expand",
        [names[2], names[1]],
        names[3],
        name=scope.get_unique_operator_name("AEExpand"),
    )
    return names[3]


def _converter(scope, operator, container):
    """Adds the estimator's encoder graph to skl2onnx's, names made unique."""
    estimator = operator.raw_operator
    model = onnx_model(
        **graph_arguments(estimator, "encoder"), opset=container.target_opset
    )
    if model.functions:
        model = inliner.inline_local_functions(model)
    graph = model.graph
    versions = {entry.domain: entry.version for entry in model.opset_import}

    renamed = {}

    def name(old):
        if old not in renamed:
            renamed[old] = scope.get_unique_variable_name(f"ae_{old}")
        return renamed[old]

    source = operator.inputs[0].full_name
    target = operator.outputs[0].full_name
    double = isinstance(operator.inputs[0].type, DoubleTensorType)
    (graph_input,) = graph.input
    (graph_output,) = graph.output
    if double:
        container.add_node(
            "Cast",
            source,
            name(graph_input.name),
            name=scope.get_unique_operator_name("AECastIn"),
            to=onnx.TensorProto.FLOAT,
        )
    else:
        container.add_node(
            "Identity",
            source,
            name(graph_input.name),
            name=scope.get_unique_operator_name("AEInput"),
        )
    for tensor in graph.initializer:
        # add_initializer copies raw_data only: give it the values that way.
        container.add_initializer(
            name(tensor.name),
            tensor.data_type,
            list(tensor.dims),
            numpy_helper.from_array(numpy_helper.to_array(tensor)),
        )
    for node in graph.node:
        if any(a.type in (a.GRAPH, a.GRAPHS) for a in node.attribute):
            raise NotImplementedError(
                f"the autoencoder's graph holds a {node.op_type} node with a "
                "subgraph, which the skl2onnx converter cannot embed yet."
            )
        container.add_node(
            node.op_type,
            _inputs(node, name, scope, container),
            # skl2onnx orders nodes by names: an unused optional output gets one.
            [
                name(n) if n else scope.get_unique_variable_name("ae_unused")
                for n in node.output
            ],
            op_domain=node.domain,
            op_version=versions[node.domain],
            name=scope.get_unique_operator_name(f"AE_{node.name or node.op_type}"),
        )
        # The attributes as the exporter wrote them (add_node would rebuild
        # them from Python values, which loses the type of empty lists).
        container.nodes[-1].attribute.extend(node.attribute)
    container.add_node(
        "Cast" if double else "Identity",
        name(graph_output.name),
        target,
        name=scope.get_unique_operator_name("AEOutput"),
        **({"to": onnx.TensorProto.DOUBLE} if double else {}),
    )


def register():
    """Register the autoencoder's shape calculator and converter with skl2onnx.

    Importing :mod:`sklearn_ae.onnx` calls it; calling it again is harmless
    (it replaces the registration, for instance after another library
    registered a converter of its own for the class).

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime
    >>> from skl2onnx import to_onnx
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_ae import AutoencoderTransformer
    >>> from sklearn_ae.onnx import register
    >>> register()
    >>> X = np.random.default_rng(0).random((50, 6), dtype=np.float32)
    >>> pipeline = make_pipeline(
    ...     StandardScaler(), AutoencoderTransformer(2, max_iter=2, random_state=0)
    ... ).fit(X)
    >>> onx = to_onnx(pipeline, X[:1])
    >>> session = onnxruntime.InferenceSession(onx.SerializeToString())
    >>> (codes,) = session.run(None, {"X": X})
    >>> bool(np.allclose(codes, pipeline.transform(X), atol=1e-4))
    True
    """
    update_registered_converter(
        AutoencoderTransformer,
        ALIAS,
        _shape_calculator,
        _converter,
        overwrite=True,
    )


register()
