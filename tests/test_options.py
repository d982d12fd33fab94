"""The options model: one table (``launcher.options``) from which every surface is derived."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from launcher.cli import build_parser
from launcher.errors import ConfigError
from launcher.options import (
    DEFAULTS,
    HSTS_MAX_AGE,
    LIVE_FIELDS,
    REDIRECT_STATUS,
    ServeConfig,
    add_arguments,
    click_options,
    config_from_args,
    config_from_click,
    from_settings,
    option_fields,
    to_settings,
)
from launcher.policy import Policy


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_arguments(parser, command="serve")
    return parser


def launch_params(*args: str, env: dict[str, str] | None = None) -> dict:
    seen: dict = {}

    @click.command()
    @click_options("launch")
    def cmd(**params: object) -> None:
        seen.update(params)

    result = CliRunner().invoke(cmd, list(args), env=env or {}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return seen


def test_serve_flags_with_no_arguments_give_the_model_defaults() -> None:
    assert config_from_args(serve_parser().parse_args([])) == DEFAULTS


def test_launch_flags_with_no_arguments_give_the_model_defaults() -> None:
    assert config_from_click(launch_params()) == DEFAULTS


def test_every_option_has_its_flag_on_the_commands_it_names() -> None:
    serve_help = build_parser()._subparsers._group_actions[0].choices["serve"].format_help()  # type: ignore[union-attr]
    for f, meta in option_fields():
        flag = meta.negative or meta.flag
        assert flag and meta.help, f.name
        if "serve" in meta.commands:
            assert flag in serve_help, f.name


def test_optional_values_take_the_one_default() -> None:
    parsed = config_from_args(serve_parser().parse_args(["--hsts", "--redirect-https"]))
    assert (parsed.hsts, parsed.redirect_https) == (HSTS_MAX_AGE, REDIRECT_STATUS)
    clicked = config_from_click(launch_params("--hsts", "--redirect-https"))
    assert (clicked.hsts, clicked.redirect_https) == (HSTS_MAX_AGE, REDIRECT_STATUS)
    given = config_from_click(launch_params("--hsts", "60", "--redirect-https", "307"))
    assert (given.hsts, given.redirect_https) == (60, 307)


def test_the_same_flags_mean_the_same_on_both_commands() -> None:
    args = ["--host", "::1", "--http-port", "0", "--https-port", "9443", "--threads", "3", "--no-http"]
    args += ["--trusted-proxy", "--reload"]
    assert config_from_args(serve_parser().parse_args(args)) == config_from_click(launch_params(*args))


def test_launch_reads_flask_run_variables_and_its_own_first() -> None:
    params = launch_params(env={"FLASK_RUN_PORT": "5001", "FLASK_RUN_HOST": "127.0.0.2"})
    assert (params["http_port"], params["host"]) == (5001, "127.0.0.2")
    params = launch_params(env={"FLASK_RUN_PORT": "5001", "FLASK_LAUNCH_HTTP_PORT": "5002"})
    assert params["http_port"] == 5002


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"http_port": 70000}, "invalid port 70000"),
        ({"https_port": -1}, "invalid port -1"),
        ({"redirect_https": 303}, "301, 302, 307 or 308"),
        ({"hsts": -5}, "HSTS max-age"),
        ({"threads": 0}, "threads"),
        ({"http": False, "https": False}, "Nothing to serve"),
        ({"cert": Path("c.pem")}, "--cert and --key go together"),
        ({"host": "bad host"}, "is not an address"),
    ],
)
def test_invalid_values_are_refused_with_a_sentence(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ServeConfig(**changes)


def test_unknown_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="Unknown option"):
        DEFAULTS.replace(colour="blue")


def test_changes_lists_only_what_differs() -> None:
    new = DEFAULTS.replace(hsts=600, http_port=0)
    assert DEFAULTS.changes(new) == {"hsts": 600, "http_port": 0}


def test_settings_round_trip_and_off_is_kept() -> None:
    config = DEFAULTS.replace(host="::1", http_port=18080, redirect_https=301, hsts=None, threads=4)
    stored = {key: str(value) for key, value in to_settings(config).items()}  # ini files hold text
    assert stored["policy/hsts"] == ""
    assert from_settings(stored.get) == config


def test_settings_that_do_not_parse_keep_the_defaults() -> None:
    stored = {"servers/http_port": "not a port", "policy/hsts": "true", "servers/threads": "0"}
    assert from_settings(stored.get) == DEFAULTS


def test_policy_fields_are_the_live_options() -> None:
    assert tuple(f.name for f in dataclasses.fields(Policy)) == LIVE_FIELDS
    policy = Policy.from_config(DEFAULTS.replace(hsts=5, redirect_https=307))
    assert (policy.hsts, policy.redirect_https, policy.hsts_value()) == (5, 307, "max-age=5")
    with pytest.raises(ConfigError, match="cannot change while serving"):
        policy.update(http_port=1)


def test_the_readme_lists_every_serve_option() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = readme[readme.index("| option | default | meaning |") :].split("\n\n", 1)[0]
    for f, meta in option_fields():
        if "serve" in meta.commands:
            assert f"`{meta.negative or meta.flag}" in table, f.name


def test_auto_workers_respect_a_cgroup_v2_cpu_quota(tmp_path, monkeypatch) -> None:
    from launcher import options

    root = tmp_path / "cgroup"
    (root / "kubepods" / "pod1").mkdir(parents=True)
    (root / "kubepods" / "cpu.max").write_text("max 100000\n")
    (root / "kubepods" / "pod1" / "cpu.max").write_text("150000 100000\n")
    proc = tmp_path / "proc-cgroup"
    proc.write_text("0::/kubepods/pod1\n")
    assert options.cgroup_cpu_limit(root, proc) == 1.5
    (root / "kubepods" / "pod1" / "cpu.max").write_text("max 100000\n")
    assert options.cgroup_cpu_limit(root, proc) is None
    monkeypatch.setattr(options, "cgroup_cpu_limit", lambda: 1.5)
    monkeypatch.setattr(options.os, "sched_getaffinity", lambda _pid: set(range(32)))
    assert options.usable_cores() == 2 and options.parse_workers("auto") == 2


def test_auto_workers_respect_a_cgroup_v1_cpu_quota(tmp_path) -> None:
    from launcher.options import cgroup_cpu_limit

    root = tmp_path / "cgroup"
    (root / "cpu" / "docker" / "abc").mkdir(parents=True)
    (root / "cpu" / "docker" / "abc" / "cpu.cfs_quota_us").write_text("100000\n")
    (root / "cpu" / "docker" / "abc" / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "proc-cgroup"
    proc.write_text("4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n0::/\n")
    assert cgroup_cpu_limit(root, proc) == 1.0
    (root / "cpu" / "docker" / "abc" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_limit(root, proc) is None


def test_workers_parse_numbers_and_auto_and_refuse_the_rest() -> None:
    from launcher.options import MAX_WORKERS, parse_workers, usable_cores

    assert parse_workers("3") == 3 and parse_workers(" AUTO ") == min(MAX_WORKERS, usable_cores())
    for bad in ("0", "-1", "x", str(MAX_WORKERS + 1)):
        with pytest.raises(ValueError, match="auto"):
            parse_workers(bad)
