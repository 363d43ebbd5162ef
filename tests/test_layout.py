"""The package's internal layout (issue #10): no module imports itself back."""

import ast
from pathlib import Path

import sklearn_ae

PACKAGE = Path(sklearn_ae.__file__).parent


def _relative_imports():
    """Module -> the package modules it imports (at any depth in its code)."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        package = name.split(".") if is_package else name.split(".")[:-1]
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[: len(package) - (node.level - 1)]
                imported.add(".".join([*base, node.module] if node.module else base))
        graph[name] = imported
    return graph


def test_no_import_cycles_even_inside_functions():
    graph = _relative_imports()

    def reachable(start):
        seen, todo = set(), [start]
        while todo:
            for module in graph.get(todo.pop(), ()):
                if module not in seen:
                    seen.add(module)
                    todo.append(module)
        return seen

    assert "sklearn_ae._io._persistence" in graph  # the walk found the modules
    assert [module for module in graph if module in reachable(module)] == []
