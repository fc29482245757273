"""The command line, ``python -m cryptoj_actors [command] ...``.

:mod:`~cryptoj_actors.cli.main` holds the parser and the exit codes; each
group of commands has a module: :mod:`~cryptoj_actors.cli.run` (``run``),
:mod:`~cryptoj_actors.cli.replay` (``replay``), :mod:`~cryptoj_actors.cli.operator`
(``halt``, ``status``, ``resume``, ``report``) and :mod:`~cryptoj_actors.cli.tools`
(``record``, ``download``, ``doctor``). What is not command-line code lives
with the concept it serves.
"""
