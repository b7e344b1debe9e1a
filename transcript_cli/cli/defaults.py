"""Config-file and environment defaults applied to the commands' options (Click's default_map).

Precedence: flags > TRANSCRIPT_CLI_* > ./transcript-cli.toml > user transcript-cli.toml >
built-in. Click itself puts flags (and an option's own `envvar`) above the default_map, so this
module only merges the lower layers, checks every value against its option, and says where each
effective value came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer
from typer.core import TyperGroup, TyperOption

from transcript_cli.config import Layers, Setting, env_name, load_layers
from transcript_cli.errors import ConfigError

RUN = "run"
ESTIMATE = "estimate"
# One-off choices about a single invocation, not habits worth a default.
NOT_CONFIGURABLE = frozenset(
    {
        "help",
        "name",
        "resume",
        "restart",
        "json",
        "stdin-name",
        "dry-run",
        "exact",
        "overwrite",
        "yes",
        "all",
    }
)


def option_key(param: object) -> str | None:
    """The config key for an option: its long flag without dashes (`--chunk-chars`)."""
    if not isinstance(param, TyperOption):
        return None
    longs = [o for o in param.opts if o.startswith("--")]
    return longs[0][2:] if longs else None


def run_options(ctx: typer.Context) -> dict[str, TyperOption]:
    """Every configurable option of `run`, by key."""
    group = ctx.find_root().command
    assert isinstance(group, TyperGroup)
    command = group.get_command(ctx, RUN)
    assert command is not None
    found: dict[str, TyperOption] = {}
    for param in command.params:
        key = option_key(param)
        if key and key not in NOT_CONFIGURABLE:
            assert isinstance(param, TyperOption)
            found[key] = param
    return found


def _check(ctx: typer.Context, param: TyperOption, setting: Setting) -> object:
    """The value converted by the option's own type, or a one-line error naming its origin."""
    try:
        value = param.process_value(ctx, setting.value)
    except typer.BadParameter as exc:
        origin = setting.source.removeprefix("env ")
        problem = f"{setting.key} = {setting.value!r}: {exc.message}"
        raise ConfigError(origin, problem) from None
    # A shell expands ~ in a flag; a config file has no shell.
    return value.expanduser() if isinstance(value, Path) else value


def load(ctx: typer.Context) -> Layers:
    """The merged config-file and environment layers for `run`'s options."""
    return load_layers(run_options(ctx))


def default_map(ctx: typer.Context) -> dict[str, dict[str, object]]:
    """Defaults per command: every `run` option, and the state folder for the others too."""
    options = run_options(ctx)
    layers = load(ctx)
    values = {
        options[key].name: _check(ctx, options[key], setting)
        for key, setting in layers.settings.items()
    }
    mapping: dict[str, dict[str, object]] = {RUN: {k: v for k, v in values.items() if k}}
    mapping[ESTIMATE] = mapping[RUN]  # `run --dry-run` under another name
    group = ctx.find_root().command
    assert isinstance(group, TyperGroup)
    if "state_dir" in values:
        for name in group.list_commands(ctx):
            if name not in mapping:
                mapping[name] = {"state_dir": values["state_dir"]}
    return mapping


def configured(ctx: typer.Context, key: str) -> object:
    """One configured default (None if none), ignoring config errors: for shell completion."""
    try:
        setting = load(ctx).settings.get(key)
    except ConfigError:
        return None
    return None if setting is None else setting.value


@dataclass(frozen=True)
class Effective:
    """What `run` would use for one option when no flag is given, and why."""

    key: str
    value: object
    source: str  # "built-in", "env NAME" or a file path
    env: str  # the variable that would set it


def effective(ctx: typer.Context) -> tuple[Layers, list[Effective]]:
    """Every configurable `run` option's effective default, in `run --help` order."""
    layers = load(ctx)
    rows = []
    for key, param in run_options(ctx).items():
        setting = layers.settings.get(key)
        if setting is not None:
            rows.append(Effective(key, _check(ctx, param, setting), setting.source, env_name(key)))
        else:
            rows.append(Effective(key, _builtin(param), "built-in", env_name(key)))
    return layers, rows


def _builtin(param: TyperOption) -> object:
    if param.default is None and isinstance(param.show_default, str):
        return param.show_default  # a default computed later, described in --help
    return param.default
