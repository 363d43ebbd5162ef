"""``python -m sklearn_ae.compare``: see ``--help``."""

from ._cli import main

main()
