"""The ``mlinfer`` command line."""
