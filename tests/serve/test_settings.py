"""conf/serve.yaml: typed once, with errors naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxonomist.errors import ConfigError
from taxonomist.serve.settings import AuthMode, ServeConfig, load_serve_config
from tests.conftest import REPO


def test_the_repository_file_matches_the_defaults() -> None:
    assert load_serve_config(REPO / "conf") == ServeConfig()


def test_absent_file_gives_the_defaults(tmp_path: Path) -> None:
    assert load_serve_config(tmp_path) == ServeConfig()


@pytest.mark.parametrize(("text", "match"), [
    ("poll_interval: 5\n", r"conf/serve.yaml: poll_interval: unknown key\n.*did you mean "
                           r"'poll_interval_s'"),
    ("max_batch: lots\n", r"conf/serve.yaml: max_batch: "),
    ("request_timeout_s: 0\n", r"request_timeout_s: expected a positive number, got 0"),
])
def test_mistakes_name_the_file_and_key(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "serve.yaml").write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_serve_config(tmp_path)


def test_command_line_values_win_and_are_checked() -> None:
    assert ServeConfig().with_overrides(port=9000, host=None).port == 9000
    with pytest.raises(ConfigError, match="workers: expected a positive number"):
        ServeConfig().with_overrides(workers=0)


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "serve.yaml").write_text("host: 127.0.0.1\nport: 9000\n")
    found = load_serve_config(tmp_path, {"TAXONOMIST_SERVE_HOST": "0.0.0.0",
                                         "TAXONOMIST_SERVE_WORKERS": "3", "OTHER": "x"})
    assert (found.host, found.port, found.workers) == ("0.0.0.0", 9000, 3)


@pytest.mark.parametrize(("environ", "match"), [
    ({"TAXONOMIST_SERVE_PORTT": "1"}, r"\$TAXONOMIST_SERVE_PORTT: portt: unknown key\n.*did "
                                      r"you mean 'port'"),
    ({"TAXONOMIST_SERVE_WORKERS": "two"}, r"\$TAXONOMIST_SERVE_WORKERS: workers: "),
])
def test_environment_mistakes_name_the_variable(tmp_path: Path, environ, match) -> None:
    with pytest.raises(ConfigError, match=match):
        load_serve_config(tmp_path, environ)


def test_the_queue_holds_at_least_one_full_request() -> None:
    with pytest.raises(ConfigError, match=r"batch_max_queued: expected at least max_batch"):
        ServeConfig().with_overrides(max_batch=64, batch_max_queued=10)


def test_who_may_call_is_read_from_the_file_and_the_environment(tmp_path: Path) -> None:
    (tmp_path / "serve.yaml").write_text("auth: keys\nkeys_file: /run/keys.yaml\n"
                                         "rate_limit: 10/second\n")
    found = load_serve_config(tmp_path, {"TAXONOMIST_SERVE_AUTH": "none"})
    assert (found.auth, found.keys_file, found.rate_limit) == (AuthMode.none, "/run/keys.yaml",
                                                               "10/second")


@pytest.mark.parametrize(("text", "match"), [
    ("auth: off\n", r"conf/serve.yaml: auth: .*expected one of \[keys, none\]"),
    ("rate_limit: often\n", r"rate_limit: expected a rate such as 100/minute"),
    ("rate_limit: 0/minute\n", r"rate_limit: expected a rate such as 100/minute"),
])
def test_auth_mistakes_name_the_key(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "serve.yaml").write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_serve_config(tmp_path)
