"""An instance's life: opening it, installing and migrating apps, demo data, serving.

What the ``formflow`` commands that create, change and run an instance do lives here; the
commands in :mod:`formflow.cli` only parse arguments and print what these return.
"""
