"""The CLI's pure parts: every command's help has an example, profiles, the lpf folder layout, durations."""

from __future__ import annotations

import argparse
import json
import os
import stat

import pytest

from chalicelib.cli import build_parser
from chalicelib.devcli.commands.get import parse_since
from chalicelib.devcli.errors import CliError, Exit
from chalicelib.devcli.profiles import Profile, ProfileStore, token_claims
from chalicelib.devcli.project import Project, dict_to_pairs, new_config, pairs_to_dict

DEVELOPER_COMMANDS = ["login", "logout", "whoami", "init", "push", "pull", "deploy", "undeploy", "rollback",
                      "delete", "invoke", "get", "logs", "schedules"]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", DEVELOPER_COMMANDS)
def test_every_developer_command_has_help_with_an_example_and_json(name: str) -> None:
    parser = _subparsers(build_parser())[name]
    text = parser.format_help()
    assert "examples:" in text and f"fngate {name}" in text and "--json" in text


@pytest.mark.parametrize("name", ["users", "app-keys"])
def test_admin_commands_have_help_with_examples(name: str) -> None:
    admin = _subparsers(build_parser())["admin"]
    text = _subparsers(admin)[name].format_help()
    assert "examples:" in text and f"fngate admin {name}" in text and "--data-dir" in text


def test_profiles_are_saved_with_mode_0600_and_switch_current(tmp_path) -> None:
    store = ProfileStore(tmp_path / "cfg" / "config.json")
    store.save("a", Profile("http://h:1", "acc", "token", token="t1"))
    store.save("b", Profile("http://h:2", "acc", "token", token="t2"), make_current=False)
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert (store.current_name(), store.get(None).url, store.get("b").url) == ("a", "http://h:1", "http://h:2")
    assert store.remove("a") and store.current_name() == "b"


def test_an_unknown_profile_is_not_logged_in(tmp_path) -> None:
    with pytest.raises(CliError) as err:
        ProfileStore(tmp_path / "none.json").get("nope")
    assert err.value.code == Exit.AUTH and "no profile 'nope'" in err.value.message


def test_a_broken_config_file_is_named(tmp_path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{not json")
    with pytest.raises(CliError) as err:
        ProfileStore(path).names()
    assert err.value.code == Exit.USAGE and str(path) in err.value.message


def test_token_claims_are_read_without_verifying_and_expiry_is_known() -> None:
    import base64

    body = base64.urlsafe_b64encode(json.dumps({"exp": 100, "login": "me"}).encode()).decode().rstrip("=")
    profile = Profile("u", "a", "token", token=f"x.{body}.y")
    assert token_claims(profile.token)["login"] == "me"
    assert profile.expired(now=101) and not profile.expired(now=99)
    assert token_claims("not-a-jwt") == {}


def test_environment_pairs_follow_lpfs_placeholder() -> None:
    assert dict_to_pairs({}) == [{"key": "", "value": ""}]  # lpf reads environmentVariables[0].key
    assert pairs_to_dict([{"key": "", "value": ""}], "x") == {}
    assert pairs_to_dict([{"key": "A", "value": 1}], "x") == {"A": "1"}
    with pytest.raises(CliError):
        pairs_to_dict({"A": 1}, "x")


def test_a_folder_takes_its_runtime_from_config_or_its_code_file(tmp_path) -> None:
    project = Project(tmp_path)
    project.ensure_scaffold()
    folder = project.functions_dir / "f"
    folder.mkdir()
    (folder / "main.py").write_text("def lambda_handler(input, callback):\n    callback(None, 1)\n")
    config = new_config("f", None, "d", {}, "python")
    del config["runtime"]  # as lpf pull writes it
    (folder / "config.json").write_text(json.dumps(config))
    fn = project.load("f")
    assert (fn.language, fn.runtime, fn.event, fn.environment) == ("python", "python3.11", None, {})
    assert (tmp_path / "bin").is_dir() and project.secrets() == {}


def test_a_folder_with_both_code_files_and_no_runtime_is_refused(tmp_path) -> None:
    project = Project(tmp_path)
    folder = project.functions_dir / "f"
    folder.mkdir(parents=True)
    for file in ("index.js", "main.py"):
        (folder / file).write_text("")
    (folder / "config.json").write_text("{}")
    with pytest.raises(CliError) as err:
        project.load("f")
    assert err.value.code == Exit.USAGE and "exactly one of index.js or main.py" in err.value.message


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200), ("7d", 604800)])
def test_since_durations(text: str, seconds: int) -> None:
    assert parse_since(text, now=1_000_000.0) == (1_000_000 - seconds) * 1000


def test_a_bad_since_is_bad_input() -> None:
    with pytest.raises(CliError) as err:
        parse_since("yesterday")
    assert err.value.code == Exit.USAGE


def test_the_serve_banners_commands_are_valid_command_lines(tmp_path) -> None:
    import shlex

    from chalicelib.cli import _next_steps

    text = _next_steps("http://127.0.0.1:8080", tmp_path / "data dir", "local")
    lines = text.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["Credentials", "A user", "Log in"]
    for line in lines:
        words = shlex.split(line.split(":", 1)[1])
        argv = words[words.index("chalicelib.cli") + 1:] if "chalicelib.cli" in words else words[1:]
        args = build_parser().parse_args(argv)
        assert callable(args.func)
        if "--data-dir" in argv:
            assert args.data_dir == str(tmp_path / "data dir")  # quoted: survives the space
