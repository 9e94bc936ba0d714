"""``python -m fastdos.cli``: the ``fastdos`` command without its entry-point script."""

from . import main

main()
