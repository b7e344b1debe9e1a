"""Defaults from transcript-cli.toml and TRANSCRIPT_CLI_*, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli, write_transcript
from tests.fake_anthropic import FakeAnthropic
from transcript_cli import __version__
from transcript_cli.chunking import split_chunks
from transcript_cli.formats import read_transcript


def user_file(cli: Cli) -> Path:
    path = Path(cli.env["XDG_CONFIG_HOME"]) / "transcript-cli" / "transcript-cli.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def local_file(cli: Cli) -> Path:
    return cli.workdir / "transcript-cli.toml"


def settings(cli: Cli, env: dict[str, str] | None = None) -> dict[str, dict[str, object]]:
    result = cli("config", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data: dict[str, dict[str, object]] = json.loads(result.stdout)["settings"]
    return data


def test_run_takes_its_defaults_from_the_local_file(cli: Cli, fake_api: FakeAnthropic) -> None:
    local_file(cli).write_text(
        'model = "claude-haiku-4-5"\nchunk-chars = 500\nconcurrency = 1\nout = "notes"\n',
        encoding="utf-8",
    )
    src = write_transcript(cli.workdir / "talk.txt", 30)
    result = cli("run", str(src))
    assert result.returncode == 0, result.stderr
    chunks = split_chunks(read_transcript(src).segments, 500, 300)
    assert sorted(fake_api.transcripts()) == sorted(c.text for c in chunks)
    assert {r.body["model"] for r in fake_api.requests} == {"claude-haiku-4-5"}
    assert (cli.workdir / "notes" / "talk.md").is_file()


def test_precedence_flag_env_local_user_builtin(cli: Cli, fake_api: FakeAnthropic) -> None:
    user_file(cli).write_text('model = "from-user"\nmax-tokens = 111\n', encoding="utf-8")
    assert settings(cli)["model"]["value"] == "from-user"
    assert settings(cli)["model"]["source"] == str(user_file(cli))
    local_file(cli).write_text('model = "from-local"\n', encoding="utf-8")
    seen = settings(cli)
    assert seen["model"] == {
        "value": "from-local",
        "source": str(local_file(cli)),
        "env": "TRANSCRIPT_CLI_MODEL",
    }
    assert seen["max-tokens"]["value"] == 111  # the user file still counts for other keys
    assert seen["chunk-chars"] == {
        "value": 6000,
        "source": "built-in",
        "env": "TRANSCRIPT_CLI_CHUNK_CHARS",
    }
    env = {"TRANSCRIPT_CLI_MODEL": "from-env"}
    seen = settings(cli, env)
    assert seen["model"]["value"] == "from-env"
    assert seen["model"]["source"] == "env TRANSCRIPT_CLI_MODEL"
    # A flag beats them all, and the request carries every layer's choice.
    src = write_transcript(cli.workdir / "a.txt", 5)
    result = cli("run", str(src), "--model", "from-flag", env=env)
    assert result.returncode == 0, result.stderr
    body = fake_api.requests[0].body
    assert body["model"] == "from-flag" and body["max_tokens"] == 111
    plain = cli("config", env=env)
    assert "env TRANSCRIPT_CLI_MODEL" in plain.stdout and str(user_file(cli)) in plain.stdout


def test_state_dir_from_config_applies_to_every_command(cli: Cli) -> None:
    env = {"TRANSCRIPT_CLI_STATE_DIR": ""}
    local_file(cli).write_text('state-dir = "elsewhere"\nprovider = "offline"\n', "utf-8")
    src = write_transcript(cli.workdir / "a.txt", 5)
    assert cli("run", str(src), "--name", "j", env=env).returncode == 0
    assert (cli.workdir / "elsewhere" / "j").is_dir()
    listed = json.loads(cli("status", "--json", env=env).stdout)
    assert listed["state_dir"] == str(cli.workdir / "elsewhere")
    assert [j["job_id"] for j in listed["jobs"]] == ["j"]


def test_malformed_file_is_one_line_naming_it(cli: Cli) -> None:
    src = write_transcript(cli.workdir / "a.txt", 5)
    cases = {
        "model = [unclosed\n": "not valid TOML",
        "chunk-char = 500\n": "unknown key 'chunk-char' (did you mean 'chunk-chars'?)",
        'chunk-chars = "many"\n': "chunk-chars = 'many': ",
        "chunk-chars = 10\n": "chunk-chars = 10: ",
        "[run]\nmodel = 'x'\n": "unknown key 'run'",
        "model = ['x']\n": "key 'model' must be a single value",
        "model = 'a'\nmodel_x = 1\n": "unknown key 'model_x'",
    }
    for text, problem in cases.items():
        local_file(cli).write_text(text, encoding="utf-8")
        for args in (("run", str(src)), ("config",), ("status",)):
            result = cli(*args)
            assert result.returncode == 2, (text, args, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, result.stderr
            assert lines[0].startswith(f"error: {local_file(cli)}: ")
            assert problem in lines[0]
    local_file(cli).write_bytes(b"model = '\xff'\n")
    assert "not UTF-8" in cli("config").stderr
    assert not cli.state_dir.exists()  # nothing was started


def test_bad_environment_value_names_the_variable(cli: Cli) -> None:
    result = cli("config", env={"TRANSCRIPT_CLI_CONCURRENCY": "lots"})
    assert result.returncode == 2
    assert result.stderr.startswith("error: TRANSCRIPT_CLI_CONCURRENCY: concurrency = 'lots'")


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"transcript-cli {__version__}\n"


def test_every_run_option_is_a_key(cli: Cli) -> None:
    """Options added to `run` later become keys without anyone listing them."""
    import typer.main

    from transcript_cli.cli import app
    from transcript_cli.cli.defaults import NOT_CONFIGURABLE

    group = typer.main.get_command(app)
    run = group.commands["run"]  # type: ignore[attr-defined]
    flags = {opt[2:] for param in run.params for opt in param.opts if opt.startswith("--")}
    assert set(settings(cli)) == flags - NOT_CONFIGURABLE
    assert {"model", "chunk-chars", "out", "concurrency", "state-dir"} <= set(settings(cli))


def test_env_sets_an_option_of_another_feature(cli: Cli) -> None:
    src = write_transcript(cli.workdir / "a.txt", 5)
    env = {"TRANSCRIPT_CLI_FORMAT": "txt", "TRANSCRIPT_CLI_PROVIDER": "offline"}
    result = cli("run", str(src), env=env)
    assert result.returncode == 0, result.stderr
    assert (cli.workdir / "cleaned" / "a.txt").is_file()
