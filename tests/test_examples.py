"""Every script in examples/ is run by the documentation's gallery.

The examples are not run here: sphinx-gallery runs each of them when the
documentation is built, and CI builds it in quick mode
(``SKLEARN_AE_EXAMPLES_QUICK=1``, warnings as errors, after the tests), so an
example that fails breaks CI. These tests check that no example escapes that
build: each one matches the gallery's pattern, has the title docstring and
``# %%`` cells sphinx-gallery needs, and has a quick mode.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def _gallery_conf():
    """``sphinx_gallery_conf`` from docs/conf.py, read without running it."""
    tree = ast.parse((ROOT / "docs" / "conf.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            getattr(target, "id", None) == "sphinx_gallery_conf"
            for target in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError("docs/conf.py defines no sphinx_gallery_conf")


def test_examples_are_found():
    assert len(EXAMPLES) >= 9


def test_the_gallery_runs_every_example():
    conf = _gallery_conf()
    assert (ROOT / "docs" / conf["examples_dirs"]).resolve() == ROOT / "examples"
    run = [
        path.name
        for path in EXAMPLES
        if re.search(conf["filename_pattern"], str(path))
        and not re.search(conf["ignore_pattern"], str(path))
    ]
    assert run == [path.name for path in EXAMPLES]


def test_examples_are_gallery_scripts_with_a_quick_mode():
    for path in EXAMPLES:
        source = path.read_text()
        docstring = ast.get_docstring(ast.parse(source), clean=False) or ""
        title, underline, *_ = [*docstring.strip().splitlines(), "", ""]
        assert title and set(underline) == {"="} and len(underline) >= len(title), (
            f"{path.name} opens with a docstring whose first line is a title "
            "underlined with '='"
        )
        assert "\n# %%" in source, f"{path.name} has '# %%' cells"
        assert "SKLEARN_AE_EXAMPLES_QUICK" in source, f"{path.name} has a quick mode"


def test_ci_builds_the_gallery_in_quick_mode_with_warnings_as_errors():
    ci = (ROOT / ".ci" / "run").read_text()
    build = re.search(r"^.*sphinx-build .*$", ci, re.M)
    assert build is not None, ".ci/run builds the documentation"
    assert "SKLEARN_AE_EXAMPLES_QUICK=1" in build.group()
    assert " -W " in build.group()
