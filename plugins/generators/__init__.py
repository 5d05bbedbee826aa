"""privgate's built-in generators, one folder per model family.

Each family is a package: ``generator.py`` holds the :class:`privgate.Generator` subclass and
its ``privgate_generators`` hook (the module named in the ``privgate`` entry-point group); a
larger family adds modules for its model and its encoding. A family's modules are its own: no
family imports another's (shared machinery lives in core, e.g. :mod:`privgate.params`,
:mod:`privgate.encoding`, :mod:`privgate.randomness`, and the DP layer :mod:`privgate.dp`).
"""
