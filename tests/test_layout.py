"""The package's internal layout: no module imports itself back."""

import ast
from pathlib import Path

import sklearn_ae

PACKAGE = Path(sklearn_ae.__file__).parent


def _module_names():
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        names[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return names


def _imports(path, name, is_package, modules):
    """The package modules that the module ``name`` imports, at any depth of
    its code: relative imports, and absolute ones of ``sklearn_ae`` too."""
    package = name.split(".") if is_package else name.split(".")[:-1]
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(
                a.name for a in node.names if a.name.split(".")[0] == "sklearn_ae"
            )
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            elif (node.module or "").split(".")[0] == "sklearn_ae":
                target = node.module
            else:
                continue
            imported.add(target)
            # ``from package import module`` imports that module as well.
            imported.update(
                f"{target}.{a.name}"
                for a in node.names
                if f"{target}.{a.name}" in modules
            )
    return {m for m in imported if m in modules and m != name}


def _import_graph():
    """Module -> the package modules it imports."""
    modules = _module_names()
    return {
        name: _imports(path, name, is_package, modules)
        for name, (path, is_package) in modules.items()
    }


def _cycles(graph):
    def reachable(start):
        seen, todo = set(), [start]
        while todo:
            for module in graph.get(todo.pop(), ()):
                if module not in seen:
                    seen.add(module)
                    todo.append(module)
        return seen

    return sorted(module for module in graph if module in reachable(module))


def test_no_import_cycles_even_inside_functions():
    graph = _import_graph()
    assert "sklearn_ae._io._persistence" in graph  # the walk found the modules
    assert _cycles(graph) == []


def test_the_import_walk_sees_absolute_self_imports(tmp_path):
    # The walk itself: an absolute import back into the package is an edge.
    modules = {"sklearn_ae": None, "sklearn_ae.a": None, "sklearn_ae.b": None}
    source = tmp_path / "b.py"
    source.write_text("def f():\n    from sklearn_ae import a\n")
    assert _imports(source, "sklearn_ae.b", False, modules) == {
        "sklearn_ae",
        "sklearn_ae.a",
    }
    source.write_text("import sklearn_ae.a\n")
    assert _imports(source, "sklearn_ae.b", False, modules) == {"sklearn_ae.a"}
    source.write_text("from .a import f\nfrom sklearn_ae.b import g\n")
    assert _imports(source, "sklearn_ae.b", False, modules) == {"sklearn_ae.a"}
