"""fastdos inside aiida-core: the ``fastdos`` storage plugin, profile switching and its ``fastdos aiida`` commands.

Only this package imports aiida-core, and only when one of its modules is imported (``fastdos.aiida.backend``
needs aiida-core installed; ``fastdos.aiida.switch`` and ``fastdos.aiida.cli`` import it inside functions), so
the rest of fastdos runs without it. Install with ``pip install fastdos[aiida]``.
"""
