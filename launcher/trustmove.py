"""Move trust from an old local CA to its replacement (``flask-launcher cert rotate-ca``).  No Qt.

Every store that trusts the old CA is made to trust the new one, then the old one is removed from
it, through the stores' own ``install``/``uninstall`` (``launcher.trust``).  Stores that do not
trust the old CA are left alone: rotating must not spread trust to places the user never chose.

1. ``plan_move(stores, old, new)`` reads each store and returns, per store that trusts the old CA,
   the exact commands (``MoveStep``): shown to the user before anything runs.  The new CA need
   not be written yet (``local_ca``): the commands name the file it will be written to.
2. ``run_move(steps, old, new)`` runs them store by store after the new CA was written.  When
   trusting the new CA fails in a store, the old one is left there (a store that trusts neither
   would break every site the user serves); one failing store does not stop the others.

A store that needs root (the system store when not root) only hands back its commands
(``Outcome.manual``): the user runs them.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from launcher.certs import describe
from launcher.errors import LauncherError
from launcher.trust import LocalCA, Outcome, TrustStore


def local_ca(cert: x509.Certificate, path: str | Path) -> LocalCA:
    """The ``LocalCA`` of ``cert`` as it will be once written to ``path`` (it need not exist yet)."""
    info = describe(cert)
    der = cert.public_bytes(serialization.Encoding.DER)
    return LocalCA(
        path=Path(path).resolve(),
        nickname=info.common_name,
        sha256=info.fingerprint_sha256,
        sha1=hashlib.sha1(der).hexdigest().upper(),  # an identifier, not a security check
    )


@dataclass
class MoveStep:
    """One store that trusts the old CA: the commands that trust the new one and remove the old."""

    store: TrustStore
    install: list[list[str]]
    uninstall: list[list[str]]

    @property
    def name(self) -> str:
        return self.store.name

    @property
    def manual(self) -> bool:
        """The commands are for the user to run (sudo); nothing is run here."""
        return self.store.manual_only

    def commands(self) -> list[list[str]]:
        return [*self.install, *self.uninstall]

    def command_text(self) -> str:
        """The commands, shell-quoted, one per line, in the order they run."""
        return "\n".join(shlex.join(argv) for argv in self.commands())


@dataclass
class MovePlan:
    """The stores whose trust moves, and those left alone (with why)."""

    steps: list[MoveStep] = field(default_factory=list)
    left_alone: list[tuple[str, str]] = field(default_factory=list)  # (store, why)


@dataclass
class MoveResult:
    """What ``run_move`` did, store by store."""

    outcomes: list[Outcome] = field(default_factory=list)
    failures: list[tuple[str, LauncherError]] = field(default_factory=list)

    @property
    def manual(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.manual]


def plan_move(stores: Sequence[TrustStore], old: LocalCA, new: LocalCA) -> MovePlan:
    """Per store that trusts ``old``: the commands that trust ``new`` and then remove ``old``."""
    plan = MovePlan()
    for store in stores:
        reason = store.unavailable_reason()
        if reason:
            plan.left_alone.append((store.name, f"unavailable: {reason}"))
            continue
        try:
            if not store.status(old):
                plan.left_alone.append((store.name, "does not trust the old CA"))
                continue
            install = [] if store.status(new) else store.install_commands(new)
            plan.steps.append(MoveStep(store, install, store.uninstall_commands(old)))
        except LauncherError as exc:
            plan.left_alone.append((store.name, f"error: {exc}"))
    return plan


def run_move(steps: Sequence[MoveStep], old: LocalCA, new: LocalCA) -> MoveResult:
    """Trust ``new`` in each step's store, then remove ``old`` from it (only once ``new`` is trusted)."""
    result = MoveResult()
    for step in steps:
        try:
            result.outcomes.append(step.store.install(new))
        except LauncherError as exc:
            result.failures.append((step.name, exc))
            continue  # keep the old CA there: trusting neither would break the user's sites
        try:
            result.outcomes.append(step.store.uninstall(old))
        except LauncherError as exc:
            result.failures.append((step.name, exc))
    return result
