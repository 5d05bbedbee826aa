"""The audit configuration: a TOML file, validated strictly.

Unknown keys and wrong types are rejected with the key's dotted path, so a typo can never turn
into a silently skipped check. Paths inside the file are relative to the file's folder, and
(on the command line) must stay inside it unless ``--allow-paths-outside-config`` is given:
see :func:`check_paths_inside`.

The accepted range of every number is stated once, in :mod:`privgate.limits`, and the
command line checks its flags with the same rules; :mod:`privgate.config_errors` turns
validation errors into messages that name the key.

Example::

    title = "Claims extract, Q3 release"
    seed = 7
    output = "privgate-report"
    policies = ["expert-determination-0.09"]
    attacks = ["dcr-membership", "anonymeter-singling-out"]

    [data]
    path = "claims.csv"
    control_fraction = 0.3

    [schema.columns.age]
    kind = "integer"
    role = "quasi-identifier"
    bounds = [0, 110]

    [[generators]]
    name = "dpsgd-vae"
    epsilon = 1.0
    delta = 1e-5
    params = { epochs = 20 }
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
)

from privgate.config_errors import check_shape, format_validation_error, shown, toml_type
from privgate.errors import N_, InputError
from privgate.input_files import check_input_file
from privgate.limits import MAX_COUNT_SETTING, RULES, in_range
from privgate.schema import Role, Schema

DEFAULT_POLICY = "expert-determination-0.09"

def _ranged(rule: str) -> Any:
    """A pydantic after-validator enforcing ``RULES[rule]`` (``None`` passes)."""
    def check(value: Any) -> Any:
        if value is not None and not in_range(rule, value):
            raise ValueError(RULES[rule])
        return value
    return check


def _path_text(value: str | None) -> str | None:
    if value is not None and (not value.strip() or "\x00" in value):
        raise ValueError(RULES["path"])
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class DataConfig(_Strict):
    """Where the real (and possibly synthetic) rows come from."""

    path: str | None = None
    rdataset: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.]*/[A-Za-z0-9_][A-Za-z0-9_.]*$")
    name: str | None = None
    control_fraction: float = Field(0.3, gt=0, lt=1)
    max_rows: int | None = None
    train: str | None = None
    control: str | None = None
    synthetic: str | None = None

    _paths = field_validator("path", "train", "control", "synthetic")(_path_text)
    _max_rows = field_validator("max_rows")(_ranged("rows"))


class SchemaConfig(_Strict):
    """Declared columns, or (for an inferred schema) just the roles of some columns."""

    columns: dict[str, dict[str, Any]] = Field(default_factory=dict)
    infer_missing: bool = False
    max_categories: int = Field(50, gt=1, le=MAX_COUNT_SETTING)
    # Roles for an inferred schema (with declared columns, give each column its role instead).
    direct_identifiers: list[str] = Field(default_factory=list)
    quasi_identifiers: list[str] = Field(default_factory=list)
    sensitive: list[str] = Field(default_factory=list)
    target: str | None = Field(None, min_length=1)
    #: the column naming the person each row belongs to (``--person-id``; privgate.persons)
    person_id: str | None = Field(None, min_length=1)

    def roles(self) -> dict[str, Role]:
        out: dict[str, Role] = {}
        for names, role in ((self.direct_identifiers, Role.DIRECT_IDENTIFIER),
                            (self.quasi_identifiers, Role.QUASI_IDENTIFIER),
                            (self.sensitive, Role.SENSITIVE),
                            ([self.target] if self.target else [], Role.TARGET),
                            ([self.person_id] if self.person_id else [], Role.PERSON_ID)):
            for name in names:
                if out.get(name) is Role.SENSITIVE and role is Role.TARGET:
                    # the sensitive attribute may also be the prediction target (income in
                    # Adult); a target is sensitive too, so it keeps both meanings
                    out[name] = role
                    continue
                if name in out:
                    raise InputError(N_("schema: column %(name)r is given two roles (%(out)s "
                                        "and %(role)s)"), name=name, out=out[name], role=role)
                out[name] = role
        return out


class GeneratorConfig(_Strict):
    name: str = Field(min_length=1)
    epsilon: float | None = None
    delta: float = 1e-5
    gate: bool = True
    rows: int | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    _epsilon = field_validator("epsilon")(_ranged("epsilon"))
    _delta = field_validator("delta")(_ranged("delta"))
    _rows = field_validator("rows")(_ranged("rows"))


class PluginRef(_Strict):
    name: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class LedgerConfig(_Strict):
    """``[ledger]``: the privacy ledger (SQLite, or a shared PostgreSQL database) that records
    every fit per data set."""

    enabled: bool = True
    #: SQLite file; default ``<user data dir>/privgate/ledger.sqlite`` (env PRIVGATE_LEDGER).
    path: str | None = None
    #: A shared PostgreSQL ledger, ``postgresql://user@host/db`` (beats ``path``; env
    #: PRIVGATE_LEDGER_URL). Written into results and hashed without its password.
    url: str | None = None
    #: Total epsilon this data set may ever spend across fits; ``None`` = record, don't limit.
    #: At most :data:`privgate.limits.MAX_TOTAL_EPSILON`.
    total_epsilon: float | None = None

    _path = field_validator("path")(_path_text)
    _total = field_validator("total_epsilon")(_ranged("total_epsilon"))

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, url: str | None) -> str | None:
        if url is not None and url.split("://", 1)[0].lower() not in ("postgresql", "postgres"):
            raise ValueError("must be a PostgreSQL URL, postgresql://user@host/database")
        return url

    @field_serializer("url")
    def _url_without_password(self, url: str | None) -> str | None:
        from privgate.ledger_location import redact_url

        return None if url is None else redact_url(url)


class ReportConfig(_Strict):
    """``[report]``: how reports are written."""

    #: a language the registered reporters write (checked against them before the audit)
    lang: str = Field("en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    #: Counts over real data below this are suppressed in every report.
    min_cell_size: int = Field(10, ge=1, le=MAX_COUNT_SETTING)


class ExecutionConfig(_Strict):
    """``[execution]``: where heavy attack work runs and how long a plugin may take."""

    backend: str = Field("joblib", pattern=r"^(inline|joblib|ray)$")
    #: Worker processes; -1 = all cores, else 1 to :data:`privgate.limits.MAX_JOBS`.
    n_jobs: int = -1
    ray_address: str | None = None
    #: Seconds one plugin call (fit+sample, one attack, one metric) may take; at most
    #: :data:`privgate.limits.MAX_TIMEOUT_S` (7 days).
    plugin_timeout_s: float = 1800.0

    _jobs = field_validator("n_jobs")(_ranged("jobs"))
    _timeout = field_validator("plugin_timeout_s")(_ranged("timeout"))


def _names(items: list[Any]) -> list[str]:
    return [i if isinstance(i, str) else i.name for i in items]


class AuditConfig(_Strict):
    """A whole audit. See the module docstring for an example."""

    title: str | None = None
    seed: int = 0
    output: str = "privgate-report"
    confidence_level: float = Field(0.95, gt=0.5, lt=1)
    policies: list[str] = Field(default_factory=lambda: [DEFAULT_POLICY])
    data: DataConfig = Field(default_factory=lambda: DataConfig())
    schema_: SchemaConfig | None = Field(None, alias="schema")
    generators: list[GeneratorConfig] = Field(default_factory=list)
    attacks: list[str | PluginRef] | None = None
    metrics: list[str | PluginRef] | None = None
    ledger: LedgerConfig = Field(default_factory=lambda: LedgerConfig())
    report: ReportConfig = Field(default_factory=lambda: ReportConfig())
    execution: ExecutionConfig = Field(default_factory=lambda: ExecutionConfig())
    base_dir: str = Field(".", exclude=True)

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True,
                              allow_inf_nan=False)

    _seed = field_validator("seed")(_ranged("seed"))
    _output = field_validator("output")(_path_text)

    @field_validator("policies")
    @classmethod
    def _policies(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("an empty policy list would certify nothing; name at least one "
                             f"policy, or omit 'policies' for the default ({DEFAULT_POLICY!r})")
        return _no_repeats(v, "policies")

    @field_validator("attacks")
    @classmethod
    def _attacks(cls, v: list[str | PluginRef] | None) -> list[str | PluginRef] | None:
        if v is not None and not v:
            raise ValueError("an empty attack list would certify nothing; omit 'attacks' to "
                             "run every default attack, or name the attacks to run")
        return None if v is None else _no_repeats(v, "attacks")

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, v: list[str | PluginRef] | None) -> list[str | PluginRef] | None:
        return None if v is None else _no_repeats(v, "metrics")  # [] means: no metrics

    def resolve(self, path: str | None) -> Path | None:
        """A path from the config, relative to the config file's folder."""
        if path is None:
            return None
        p = Path(path).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p

    def refs(self, kind: str) -> list[PluginRef] | None:
        items = getattr(self, kind)
        if items is None:
            return None
        return [PluginRef(name=i) if isinstance(i, str) else i for i in items]

    def declared_schema(self, where: str) -> Schema | None:
        if self.schema_ is None or not self.schema_.columns:
            return None
        return Schema.from_mapping(self.schema_.columns, where=where)

    def normalised(self) -> dict[str, Any]:
        """The config as plain data (for results and hashing), aliases applied."""
        return self.model_dump(mode="json", by_alias=True, exclude={"base_dir"})

    def sha256(self) -> str:
        """Fingerprint of everything that determines the results (the output folder does not)."""
        doc = self.normalised()
        doc.pop("output", None)
        blob = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def _no_repeats(items: list[Any], key: str) -> list[Any]:
    names = _names(items)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"lists {twice} more than once; name each one once")
    return items


def parse_config(raw: dict[str, Any], *, where: str, base_dir: Path | str = ".") -> AuditConfig:
    """Validate a config mapping; raises :class:`InputError` naming the bad keys."""
    if not isinstance(raw, Mapping):
        raise InputError(N_("%(where)s: the config must be a table of keys, got %(type)s"),
                         where=where, type=toml_type(raw))
    check_shape(raw, where)
    try:
        return AuditConfig.model_validate({**raw, "base_dir": str(base_dir)})
    except ValidationError as exc:
        raise InputError(format_validation_error(exc, where)) from None


# -- paths named by a config file must stay inside its folder --------------------------------

#: Config keys that name files or folders, and the command-line flag that sets each.
PATH_KEYS: dict[str, str] = {
    "data.path": "--data", "data.train": "--train", "data.control": "--control",
    "data.synthetic": "--synthetic", "ledger.path": "--ledger", "output": "--out",
}
#: The flag that lets a trusted config name paths outside its own folder.
ALLOW_OUTSIDE_FLAG = "--allow-paths-outside-config"


def config_paths(raw: Mapping[str, Any]) -> dict[str, str]:
    """The path-valued keys (:data:`PATH_KEYS`) a raw config mapping sets, as strings."""
    out = {}
    for key in PATH_KEYS:
        node: Any = raw
        for part in key.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, str):
            out[key] = node
    return out


def check_paths_inside(paths: Mapping[str, str], *, where: str, base_dir: Path | str) -> None:
    """Refuse config paths that, symbolic links resolved, leave the config file's folder.

    A config may come from an untrusted pull request: without this, ``data.path =
    "/etc/shadow"`` would read that file and quote it in the results. Paths given on the
    command line are the user's own and are not checked; a trusted config is allowed out with
    ``--allow-paths-outside-config``.
    """
    base = Path(os.path.realpath(base_dir))
    for key, value in paths.items():
        if "\x00" in value:
            raise InputError(N_("%(where)s: '%(key)s' %(rule)s, got %(got)s"),
                             where=where, key=key, rule=RULES['path'], got=shown(value))
        p = Path(value).expanduser()
        real = Path(os.path.realpath(p if p.is_absolute() else base / p))
        if real != base and base not in real.parents:
            raise InputError(N_("%(where)s: '%(key)s' = %(value)r is outside the config file's "
                                "folder %(base)s (it resolves to %(real)s); a config may only "
                                "name files inside its own folder, since configs can come from "
                                "untrusted pull requests. Move the file into that folder, give "
                                "it on the command line (%(path_keys)s), or pass "
                                "%(allow_outside_flag)s if you trust this config"),
                             where=where, key=key, value=value, base=base, real=real,
                             path_keys=PATH_KEYS[key], allow_outside_flag=ALLOW_OUTSIDE_FLAG)


def read_toml(path: Path | str) -> dict[str, Any]:
    """The raw mapping of a config file, or an :class:`InputError` naming the file."""
    path = check_input_file(path, "config", give="a TOML file")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(N_("%(path)s: not valid TOML: %(exc)s"), path=path, exc=exc) from None
    except UnicodeDecodeError:
        raise InputError(N_("%(path)s: not a UTF-8 text file; a config is a TOML text file"),
                         path=path) from None
    except OSError as exc:
        raise InputError(N_("%(path)s: the config file cannot be read: %(reason)s"),
                         path=path, reason=exc.strerror) from None
    if "base_dir" in raw:
        raise InputError(N_("%(path)s: unknown key 'base_dir'"), path=path)
    check_shape(raw, str(path))
    return raw


def load_config(path: Path | str) -> AuditConfig:
    """Read and validate an audit config file."""
    path = Path(path)
    return parse_config(read_toml(path), where=str(path), base_dir=path.resolve().parent)
