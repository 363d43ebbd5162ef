"""Count the code lines of Python files: not blank, not comments, not docstrings.

Usage: ``python benchmarks/code_lines.py [FILE...]`` prints each file's count
and the total; without files it counts persistence (``sklearn_ae/_io/`` less
the ONNX exporter), the measure of issue #20. A docstring is a string literal
that stands alone as the first statement of a module, class or function.
"""

import ast
import io
import sys
import tokenize


def code_lines(source):
    """The number of lines of ``source`` that hold code."""
    tree = ast.parse(source)
    docstrings = set()
    scopes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        if (
            isinstance(node, scopes)
            and ast.get_docstring(node, clean=False) is not None
        ):
            first = node.body[0]
            docstrings.update(range(first.lineno, first.end_lineno + 1))
    lines = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT}
    skip |= {tokenize.DEDENT, tokenize.ENDMARKER}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstrings)


PERSISTENCE = ("sklearn_ae/_io/_persistence.py", "sklearn_ae/_io/_files.py")

if __name__ == "__main__":
    total = 0
    for path in sys.argv[1:] or PERSISTENCE:
        with open(path, encoding="utf-8") as f:
            count = code_lines(f.read())
        total += count
        print(f"{count:6d}  {path}")
    print(f"{total:6d}  total")
