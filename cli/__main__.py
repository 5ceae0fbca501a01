"""``python -m cli ...`` is the ``eawe`` command."""

from cli.main import main

main()
