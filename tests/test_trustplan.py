"""launcher.trustplan, without Qt: store states, the exact commands planned, running a plan.

Real stores: Chromium's NSS database in a temporary HOME with real certutil, the Debian system
store in a temporary tree as a non-root user (it only hands back sudo commands), and an NSS
store whose database is missing (unavailable, with the reason).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from launcher.certs import CertStore
from launcher.messages import MessageLevel
from launcher.trust import DebianSystemStore, LocalCA, NssStore, TrustState, chromium_store
from launcher.trustplan import StoreState, TrustAction, make_plan, read_states, run_plan


@pytest.fixture
def ca(tmp_path: Path) -> LocalCA:
    store = CertStore(tmp_path / "certs")
    store.ensure_ca()
    return LocalCA.load(store.ca_cert_path)


@pytest.fixture
def system_store(tmp_path: Path) -> DebianSystemStore:
    store = DebianSystemStore(local_dir=tmp_path / "local-cas", etc_dir=tmp_path / "etc-ssl", as_root=False)
    if store.unavailable_reason():
        pytest.skip(store.unavailable_reason())
    return store


def test_store_state_words() -> None:
    assert StoreState("A", TrustState.TRUSTED).text() == "trusted"
    assert StoreState("A", TrustState.TRUSTED).trusted
    assert not StoreState("A", TrustState.NOT_TRUSTED).trusted
    assert StoreState("A", TrustState.NOT_TRUSTED, manual_only=True).text() == "not trusted (needs sudo)"
    assert StoreState("A", TrustState.NO_CA).text() == "not trusted (no CA yet)"
    assert StoreState("A", TrustState.UNAVAILABLE, "no certutil").text() == "unavailable: no certutil"
    assert StoreState("A", TrustState.FAILED, "boom").text() == "error: boom"
    assert TrustState.FAILED == "error"  # the word the style sheet and the status list use


def test_states_before_and_without_a_ca(home: Path, certutil: str, system_store, tmp_path: Path, ca) -> None:
    missing = NssStore("Nowhere", tmp_path / "no-db")  # create=False: its database must exist
    stores = [chromium_store(), system_store, missing]
    states = read_states(stores, None)
    assert [s.state for s in states] == [TrustState.NO_CA, TrustState.NO_CA, TrustState.UNAVAILABLE]
    assert states[1].manual_only and "no NSS database" in states[2].detail
    assert [s.state for s in read_states(stores, ca)][:2] == [TrustState.NOT_TRUSTED, TrustState.NOT_TRUSTED]


def test_install_plan_shows_the_exact_commands_then_runs_them(
    home: Path, certutil: str, system_store, tmp_path: Path, ca
) -> None:
    missing = NssStore("Nowhere", tmp_path / "no-db")
    plan = make_plan("install", [chromium_store(), system_store, missing], ca)
    assert plan.action is TrustAction.INSTALL and plan.install
    assert [p.name for p in plan.stores] == [chromium_store().name, system_store.name]
    assert [s.name for s in plan.skipped] == ["Nowhere"] and plan.idle == []
    nss, system = plan.stores
    assert not nss.manual and system.manual
    last = shlex.split(nss.command_text().split(" &&\n")[-1])
    assert last == ["certutil", "-d", f"sql:{home}/.pki/nssdb", "-A", "-t", "C,,", "-n", ca.nickname,
                    "-i", str(ca.path)]  # fmt: skip
    assert all(argv[0] == "sudo" for argv in system.commands)

    result = run_plan(plan, plan.stores)
    assert result.failures == []
    states = {s.name: s.state for s in result.states}
    assert states[nss.name] is TrustState.TRUSTED
    assert states[system.name] is TrustState.NOT_TRUSTED  # sudo commands handed back, not run
    assert [o.store for o in result.manual] == [system.name]
    text, level = result.summary()
    assert level is MessageLevel.WARNING and "needs root" in text and "now trusts" in text

    again = make_plan(TrustAction.INSTALL, [chromium_store()], ca)
    assert again.stores == [] and [(p.name, p.note) for p in again.idle] == [(nss.name, "already trusted")]

    undo = make_plan("uninstall", [chromium_store()], ca)
    assert undo.stores[0].commands == [["certutil", "-d", f"sql:{home}/.pki/nssdb", "-D", "-n", ca.nickname]]
    removed = run_plan(undo, undo.stores)
    assert removed.summary()[1] is MessageLevel.INFO and not removed.states[0].trusted
    assert make_plan("uninstall", [chromium_store()], ca).idle[0].note == "not installed"


def test_a_failing_store_is_reported_and_the_others_still_run(
    home: Path, certutil: str, tmp_path: Path, ca
) -> None:
    # A store whose database folder is a file: certutil fails there.
    (tmp_path / "blocked").write_text("not a folder")
    broken = NssStore("Broken", tmp_path / "blocked" / "db", create=True)
    plan = make_plan("install", [broken, chromium_store()], ca)
    result = run_plan(plan, plan.stores)
    assert [name for name, _exc in result.failures] == ["Broken"]
    assert result.states[1].state is TrustState.TRUSTED
    text, level = result.summary()
    assert level is MessageLevel.ERROR and "Broken" in text


def test_unknown_action_is_refused(ca) -> None:
    with pytest.raises(ValueError, match="'install' or 'uninstall'"):
        make_plan("trust", [], ca)
