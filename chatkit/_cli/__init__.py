"""Parts of the ``chatkit`` command; `chatkit.cli` holds the app and registers them.

`chatkit._cli.core` makes the help and the errors read as a command line's
(flags without a type, ``NAME`` in usage lines, one-line errors on stderr);
`chatkit._cli.output` prints tables that are never cut and progress bars that
count real work. The other modules hold one command group each.
"""
