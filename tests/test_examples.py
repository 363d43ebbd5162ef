"""Every script in examples/ runs in quick mode, so none can rot."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def test_examples_are_found():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs_quick_and_saves_a_figure(script, tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        "SKLEARN_AE_EXAMPLES_QUICK": "1",
        "SKLEARN_AE_EXAMPLES_OUTPUT": str(tmp_path),
        "MPLBACKEND": "Agg",
        # t-SNE's OpenMP threads spin badly on a busy machine
        "OMP_NUM_THREADS": "1",
    }
    docstring = script.read_text().lstrip()
    assert docstring.startswith('"""'), "an example opens with its title docstring"
    assert "# %%" in docstring
    result = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert list(tmp_path.glob("*.png")), "each example saves at least one figure"
