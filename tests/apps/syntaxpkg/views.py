"""This file is broken on purpose (see tests/apps/README.md)."""


def index(:
    return "never"
