"""The audit configuration: a TOML file, validated strictly.

Unknown keys and wrong types are rejected with the key's dotted path, so a typo can never turn
into a silently skipped check. Paths inside the file are relative to the file's folder.

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
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from privgate.errors import InputError
from privgate.schema import Role, Schema

DEFAULT_POLICY = "expert-determination-0.09"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DataConfig(_Strict):
    """Where the real (and possibly synthetic) rows come from."""

    path: str | None = None
    rdataset: str | None = Field(None, pattern=r"^[A-Za-z0-9_.]+/[A-Za-z0-9_.]+$")
    name: str | None = None
    control_fraction: float = Field(0.3, gt=0, lt=1)
    max_rows: int | None = Field(None, gt=0)
    train: str | None = None
    control: str | None = None
    synthetic: str | None = None


class SchemaConfig(_Strict):
    """Declared columns, or (for an inferred schema) just the roles of some columns."""

    columns: dict[str, dict[str, Any]] = Field(default_factory=dict)
    infer_missing: bool = False
    max_categories: int = Field(50, gt=1)
    # Roles for an inferred schema (with declared columns, give each column its role instead).
    direct_identifiers: list[str] = Field(default_factory=list)
    quasi_identifiers: list[str] = Field(default_factory=list)
    sensitive: list[str] = Field(default_factory=list)
    target: str | None = None

    def roles(self) -> dict[str, Role]:
        out: dict[str, Role] = {}
        for names, role in ((self.direct_identifiers, Role.DIRECT_IDENTIFIER),
                            (self.quasi_identifiers, Role.QUASI_IDENTIFIER),
                            (self.sensitive, Role.SENSITIVE),
                            ([self.target] if self.target else [], Role.TARGET)):
            for name in names:
                if name in out:
                    raise InputError(f"schema: column {name!r} is given two roles "
                                     f"({out[name]} and {role})")
                out[name] = role
        return out


class GeneratorConfig(_Strict):
    name: str
    epsilon: float | None = Field(None, gt=0)
    delta: float = Field(1e-5, ge=0, lt=1)
    gate: bool = True
    rows: int | None = Field(None, gt=0)
    params: dict[str, Any] = Field(default_factory=dict)


class PluginRef(_Strict):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class LedgerConfig(_Strict):
    """``[ledger]``: the privacy ledger (SQLite) that records every fit per data set."""

    enabled: bool = True
    #: SQLite file; default ``<user data dir>/privgate/ledger.sqlite`` (env PRIVGATE_LEDGER).
    path: str | None = None
    #: Total epsilon this data set may ever spend across fits; ``None`` = record, don't limit.
    total_epsilon: float | None = Field(None, gt=0)


class ReportConfig(_Strict):
    """``[report]``: how reports are written."""

    lang: str = Field("en", pattern=r"^(en|ko)$")
    #: Counts over real data below this are suppressed in every report.
    min_cell_size: int = Field(10, ge=1)


class ExecutionConfig(_Strict):
    """``[execution]``: where heavy attack work runs and how long a plugin may take."""

    backend: str = Field("joblib", pattern=r"^(inline|joblib|ray)$")
    n_jobs: int = -1
    ray_address: str | None = None
    #: Seconds one plugin call (fit+sample, one attack, one metric) may take.
    plugin_timeout_s: float = Field(1800.0, gt=0)


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

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    @field_validator("policies")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one policy is needed")
        return v

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


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "PluginRef", "function-after[_non_empty(), list[str]]"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def format_validation_error(exc: ValidationError, where: str) -> str:
    lines = []
    seen = set()
    errors = exc.errors()
    keys = [_loc(tuple(e["loc"])) for e in errors]
    for err, key in zip(errors, keys, strict=True):
        if err["type"] == "string_type" and any(k.startswith(key + ".") for k in keys):
            continue  # a table given where a name also would do: report the table's problem
        if err["type"] == "extra_forbidden":
            msg = f"{where}: unknown key '{key}' (check the spelling; see the config reference)"
        else:
            got = err.get("input")
            shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
            msg = f"{where}: '{key}': {err['msg'].lower()} (got {shown})"
        if key in seen and err["type"] != "extra_forbidden":
            continue  # union members repeat the same key
        seen.add(key)
        lines.append(msg)
    return "\n".join(lines)


def parse_config(raw: dict[str, Any], *, where: str, base_dir: Path | str = ".") -> AuditConfig:
    """Validate a config mapping; raises :class:`InputError` naming the bad keys."""
    try:
        return AuditConfig.model_validate({**raw, "base_dir": str(base_dir)})
    except ValidationError as exc:
        raise InputError(format_validation_error(exc, where)) from None


def read_toml(path: Path | str) -> dict[str, Any]:
    """The raw mapping of a config file, or an :class:`InputError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: config file not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None
    if "base_dir" in raw:
        raise InputError(f"{path}: unknown key 'base_dir'")
    return raw


def load_config(path: Path | str) -> AuditConfig:
    """Read and validate an audit config file."""
    path = Path(path)
    return parse_config(read_toml(path), where=str(path), base_dir=path.resolve().parent)
