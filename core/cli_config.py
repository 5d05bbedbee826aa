"""Building an audit's config from a TOML file and the command line's flags (and the
embedded demo's config)."""

from __future__ import annotations

import argparse
import importlib.resources
import tomllib
from pathlib import Path
from typing import Any

from privgate.config import (
    AuditConfig,
    check_paths_inside,
    config_paths,
    parse_config,
    read_toml,
)
from privgate.errors import N_, InputError, Text

#: Where a config made of the command line's flags alone comes from, as messages say it.
COMMAND_LINE = Text(N_("command line"))


def raw_config(path: str | None) -> tuple[dict[str, Any], str, Path]:
    if path is None:
        return {}, COMMAND_LINE, Path.cwd()
    p = Path(path)
    return read_toml(p), str(p), p.resolve().parent


def apply_flags(raw: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    raw = dict(raw)
    data = dict(raw.get("data", {}))
    cwd = str(Path.cwd())
    for flag in ("data", "train", "control", "synthetic"):
        value = getattr(args, flag, None)
        if value is None:
            continue
        if flag == "data":
            for k in ("path", "rdataset", "train", "control", "synthetic"):
                data.pop(k, None)
            data["path"] = str(Path(cwd, value))
        else:
            if flag in ("train", "control"):
                data.pop("path", None)
                data.pop("rdataset", None)
            data[flag] = str(Path(cwd, value))
    if args.max_rows is not None:
        data["max_rows"] = args.max_rows
    raw["data"] = data
    if args.generator:
        raw["generators"] = [{"name": g} for g in args.generator]
    if getattr(args, "synthetic", None) and not args.generator:
        raw["generators"] = []
    for g in raw.get("generators", []):
        if isinstance(g, dict):
            if args.epsilon is not None:
                g["epsilon"] = args.epsilon
            if args.delta is not None:
                g["delta"] = args.delta
    role_flags = {"direct_identifiers": args.drop, "quasi_identifiers": args.quasi_identifiers,
                  "sensitive": args.sensitive}
    person = getattr(args, "person_id", None)
    if any(role_flags.values()) or args.target or person:
        schema = dict(raw.get("schema", {}))
        if person:
            schema["person_id"] = person.strip()
        for key, value in role_flags.items():
            if value:
                schema[key] = [c.strip() for c in value.split(",") if c.strip()]
        if args.target:
            schema["target"] = args.target
        raw["schema"] = schema
    if args.policy:
        raw["policies"] = args.policy
    if args.attack:
        raw["attacks"] = args.attack
    if args.seed is not None:
        raw["seed"] = args.seed
    execution = dict(raw.get("execution", {}))
    if getattr(args, "plugin_timeout", None) is not None:
        execution["plugin_timeout_s"] = args.plugin_timeout
    if args.ray_address is not None:
        execution["ray_address"] = args.ray_address
        execution["backend"] = args.backend or "ray"
    if args.backend is not None:
        execution["backend"] = args.backend
    if args.jobs is not None:
        execution["n_jobs"] = args.jobs
    if execution:
        raw["execution"] = execution
    ledger = dict(raw.get("ledger", {}))
    if getattr(args, "ledger", None) is not None:
        ledger["path"] = str(Path(cwd, args.ledger))
        ledger.pop("url", None)  # the command line beats the file
    if getattr(args, "ledger_url", None) is not None:
        ledger["url"] = args.ledger_url
    if getattr(args, "no_ledger", False):
        ledger["enabled"] = False
    if getattr(args, "total_epsilon", None) is not None:
        ledger["total_epsilon"] = args.total_epsilon
    if ledger:
        raw["ledger"] = ledger
    if getattr(args, "lang", None):
        raw["report"] = {**raw.get("report", {}), "lang": args.lang}
    if args.out is not None:
        raw["output"] = str(Path(cwd, args.out))
    return raw


def config_from_args(args: argparse.Namespace, command: str
                     ) -> tuple[AuditConfig, dict[str, Any], str, Path]:
    """The config a command line asks for (``audit``, ``plan``): the file, if any, with the
    flags applied, the paths the file itself names checked to stay inside its folder (unless
    ``--allow-paths-outside-config``; command-line paths are the user's own), validated.
    Returns the config, its raw mapping, where it came from and its folder."""
    raw, where, base = raw_config(args.config)
    if args.config is None and not (args.data or args.train):
        raise InputError(N_("give a config file (privgate %(command)s gate.toml) or --data CSV"),
                         command=command)
    from_file = config_paths(raw)
    raw = apply_flags(raw, args)
    if args.config is not None and not args.allow_paths_outside_config:
        merged = config_paths(raw)
        check_paths_inside({k: v for k, v in from_file.items() if merged.get(k) == v},
                           where=where, base_dir=base)
    config = parse_config(raw, where=where, base_dir=base)
    remember_lang(args, config)
    return config, raw, where, base


def demo_config(args: argparse.Namespace, registry: Any = None) -> AuditConfig:
    """The embedded demo's config, with the command line's overrides."""
    from privgate.dp.generator import is_epoch_trained

    registry = registry if registry is not None else registry_for(args)
    text = importlib.resources.files("privgate.data").joinpath("demo.toml").read_text("utf-8")
    raw = tomllib.loads(text)
    if args.out is not None:
        raw["output"] = str(Path.cwd() / args.out)
    else:
        raw["output"] = str(Path.cwd() / raw["output"])
    if args.seed is not None:
        raw["seed"] = args.seed
    if args.max_rows is not None:
        raw["data"]["max_rows"] = args.max_rows
    if args.epochs is not None:
        for g in raw["generators"]:
            if is_epoch_trained(registry.generator(g["name"])):  # the DP layer's contract
                g.setdefault("params", {})["epochs"] = args.epochs
    if getattr(args, "lang", None):
        raw["report"] = {**raw.get("report", {}), "lang": args.lang}
    config = parse_config(raw, where="demo.toml", base_dir=Path.cwd())
    remember_lang(args, config)
    return config


def remember_lang(args: argparse.Namespace | None, config: AuditConfig) -> None:
    """Keep the config's ``[report] lang`` (``--lang`` already in it) on ``args``: an error
    after the config was read is then printed in that language (:func:`privgate.cli.main`)."""
    if args is not None:
        args.config_lang = config.report.lang


def registry_for(args: argparse.Namespace | None = None) -> Any:
    from privgate.plugin_loading import get_plugin_manager
    from privgate.registry import build_registry

    disabled = getattr(args, "disable_plugin", None) or ()
    return build_registry(get_plugin_manager(disable=disabled))
