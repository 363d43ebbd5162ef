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


def _readme_block(heading, language):
    """The first ``language`` code block under README's ``heading``."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(rf"```{language}\n(.*?)```", section, re.S).group(1)


def test_readmes_ten_lines_fit_and_score_the_classifier(capsys):
    code = _readme_block("Ten lines", "python")
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["Z"].shape == (450, 16)
    assert namespace["X_hat"].shape == (450, 64)
    assert float(capsys.readouterr().out) > 0.9  # the printed accuracy


def test_readmes_two_commands_are_what_ci_runs():
    commands = [
        line
        for line in _readme_block("Two commands", "bash").splitlines()
        if line and not line.startswith("#")
    ]
    assert commands == [
        'pip install torch==2.13.0 -e ".[examples]" && python -m sklearn_ae.demo',
        'pip install torch==2.13.0 -e ".[test]" && python -m pytest',
    ]
    assert commands[1] in (ROOT / ".ci" / "run").read_text().splitlines()


# ``pip install`` and its arguments up to ``&&`` or a backtick, one of them
# the package by name.
INDEX_INSTALL = re.compile(
    r"pip install(?:[ \t]+(?!&&)[^\s`]+)*?[ \t]+[\"']?sklearn[-_]ae\b"
)


def test_no_install_command_asks_an_index_for_sklearn_ae():
    # The package is on no index: every install of it is from a checkout
    # (pip install -e ".[extra]") or a built wheel.
    files = [
        ROOT / "README.md",
        *(ROOT / "docs").rglob("*.md"),
        *(ROOT / "docs").rglob("*.rst"),
        *(ROOT / "sklearn_ae").rglob("*.py"),
        *EXAMPLES,
    ]
    offending = [
        f"{path.relative_to(ROOT)}: {match.group()}"
        for path in files
        if "_build" not in path.parts
        for match in re.finditer(INDEX_INSTALL, path.read_text())
    ]
    assert offending == []
