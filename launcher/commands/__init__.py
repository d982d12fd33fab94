"""Subcommands of ``flask-launcher``: one module each, with ``register(subparsers)``.

Each module's ``register`` adds its parser and sets ``func`` to a ``run(args) -> int``.
"""
