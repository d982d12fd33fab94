"""The trust plan: what each store says, and the exact commands a Trust or Untrust would run.

Qt-free, so the window (``launcher.gui.trustpanel``) and the CLI (``flask-launcher trust``) work
out the same thing the same way:

1. ``read_states(stores, ca)``: every store's ``StoreState`` (trusted, not trusted, unavailable
   and why, an error, or "no CA yet").
2. ``make_plan(action, stores, ca)``: store by store, the commands ``install``/``uninstall``
   would run (``StorePlan``), those with nothing to do, and the unusable ones.  Shown to the user
   before anything runs.
3. ``run_plan(plan, chosen)``: run the chosen stores' install/uninstall, collect the outcomes
   and the ``LauncherError``s (one failing store does not stop the others), read every status
   again; ``TrustResult.summary()`` words it with a ``MessageLevel``.

Every call reads the stores (``certutil`` and friends run): call them off the GUI thread.
"""

from __future__ import annotations

import enum
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from launcher.errors import LauncherError
from launcher.messages import MessageLevel
from launcher.trust import LocalCA, Outcome, TrustState, TrustStore


class TrustAction(enum.StrEnum):
    """Trust the CA, or take it out of the stores again (the CLI's words: ``trust install``)."""

    INSTALL = "install"
    UNINSTALL = "uninstall"


@dataclass(frozen=True)
class StoreState:
    """One store's trust status, as shown in the list."""

    name: str
    state: TrustState
    detail: str = ""  # the reason it is unavailable, the error
    manual_only: bool = False  # changing it needs root: the user runs its commands

    @property
    def trusted(self) -> bool:
        return self.state is TrustState.TRUSTED

    def text(self) -> str:
        """The status in words, with the reason where there is one."""
        if self.state is TrustState.UNAVAILABLE:
            return f"unavailable: {self.detail}"
        if self.state is TrustState.FAILED:
            return f"error: {self.detail}"
        if self.state is TrustState.NO_CA:
            return "not trusted (no CA yet)"
        if self.state is TrustState.NOT_TRUSTED and self.manual_only:
            return "not trusted (needs sudo)"
        return str(self.state)


def read_states(stores: Sequence[TrustStore], ca: LocalCA | None) -> list[StoreState]:
    """Ask every store whether it trusts *ca* (None: there is no CA yet); errors become FAILED."""
    states: list[StoreState] = []
    for store in stores:
        reason = store.unavailable_reason()
        if reason:
            states.append(StoreState(store.name, TrustState.UNAVAILABLE, reason))
            continue
        manual = store.manual_only
        if ca is None:
            states.append(StoreState(store.name, TrustState.NO_CA, manual_only=manual))
            continue
        try:
            trusted = store.status(ca)
        except LauncherError as exc:
            states.append(StoreState(store.name, TrustState.FAILED, str(exc), manual))
            continue
        state = TrustState.TRUSTED if trusted else TrustState.NOT_TRUSTED
        states.append(StoreState(store.name, state, manual_only=manual))
    return states


@dataclass
class StorePlan:
    """What one usable store would run for the action (empty: nothing to do, see ``note``)."""

    store: TrustStore
    commands: list[list[str]]
    manual: bool  # the commands are for the user to run (sudo); nothing is run here
    note: str = ""

    @property
    def name(self) -> str:
        return self.store.name

    def command_text(self) -> str:
        """The commands, shell-quoted, one per line (joined so that pasting them runs them in order)."""
        return " &&\n".join(shlex.join(argv) for argv in self.commands)


@dataclass
class TrustPlan:
    """Everything a Trust CA… or Untrust… would do, worked out before asking."""

    action: TrustAction
    ca: LocalCA
    stores: list[StorePlan] = field(default_factory=list)  # usable stores with something to do
    idle: list[StorePlan] = field(default_factory=list)  # usable stores with nothing to do
    skipped: list[StoreState] = field(default_factory=list)  # unavailable stores
    all_stores: list[TrustStore] = field(default_factory=list)

    @property
    def install(self) -> bool:
        return self.action is TrustAction.INSTALL


def store_commands(store: TrustStore, action: TrustAction, ca: LocalCA) -> list[list[str]]:
    """What *store* would run for *action*; empty when there is nothing to do (already trusted,
    not installed).  Reads the store."""
    if action is TrustAction.INSTALL:
        return [] if store.status(ca) else store.install_commands(ca)
    return store.uninstall_commands(ca)


def make_plan(action: TrustAction | str, stores: Sequence[TrustStore], ca: LocalCA) -> TrustPlan:
    """Work out, store by store, the exact commands *action* would run (reads the stores).

    Raises ``ValueError`` for an action other than "install" or "uninstall".
    """
    try:
        action = TrustAction(action)
    except ValueError:
        raise ValueError(f"action must be 'install' or 'uninstall', not {action!r}") from None
    plan = TrustPlan(action, ca, all_stores=list(stores))
    for store in stores:
        reason = store.unavailable_reason()
        if reason:
            plan.skipped.append(StoreState(store.name, TrustState.UNAVAILABLE, reason))
            continue
        if action is TrustAction.INSTALL:
            if store.status(ca):
                plan.idle.append(StorePlan(store, [], store.manual_only, "already trusted"))
                continue
            commands = store.install_commands(ca)
        else:
            commands = store.uninstall_commands(ca)
            if not commands:
                plan.idle.append(StorePlan(store, [], store.manual_only, "not installed"))
                continue
        plan.stores.append(StorePlan(store, commands, store.manual_only))
    return plan


@dataclass
class TrustResult:
    """What running a plan did: the outcomes, the failures and the statuses read afterwards."""

    action: TrustAction
    outcomes: list[Outcome]
    failures: list[tuple[str, LauncherError]]
    states: list[StoreState]

    @property
    def manual(self) -> list[Outcome]:
        """The outcomes that only handed back commands for the user to run."""
        return [o for o in self.outcomes if o.manual]

    def summary(self) -> tuple[str, MessageLevel]:
        """``(text, level)`` for the banner: ERROR when a store failed, WARNING when commands are
        left for the user, else INFO."""
        parts = [o.message for o in self.outcomes if not o.manual]
        parts += [f"{o.store}: needs root; run the command shown under Trust yourself." for o in self.manual]
        parts += [str(exc) for _name, exc in self.failures]
        if self.failures:
            level = MessageLevel.ERROR
        elif self.manual:
            level = MessageLevel.WARNING
        else:
            level = MessageLevel.INFO
        return " ".join(parts) or "Nothing was done.", level


def run_plan(plan: TrustPlan, chosen: Sequence[StorePlan]) -> TrustResult:
    """Install or uninstall in the *chosen* stores, then read every status again."""
    outcomes: list[Outcome] = []
    failures: list[tuple[str, LauncherError]] = []
    for item in chosen:
        try:
            outcome = item.store.install(plan.ca) if plan.install else item.store.uninstall(plan.ca)
        except LauncherError as exc:
            failures.append((item.name, exc))
        else:
            outcomes.append(outcome)
    return TrustResult(plan.action, outcomes, failures, read_states(plan.all_stores, plan.ca))
