"""Whether a result document agrees with itself: every status with its numbers, every verdict
with its checks. ``privgate report`` and ``--compare`` refuse a document that does not (an edit
that turned a FAIL green, a headline that contradicts its table).

The rules are those core decides by (:mod:`privgate.policy`), stated as what a status *implies*
about the numbers, so they hold for any document core wrote:

* ``pass``: an upper bound is present and at or below the threshold; the sample could certify
  the threshold (``certification.can_certify`` and ``certifiable_on_table`` are not false).
* ``fail``: an upper bound is present and above the threshold.
* ``cannot-certify``: the lower bound is not above the threshold (that would be a fail), and a
  sample that could certify with an upper bound at or below the threshold would have passed.
* every check's numbers are ordered (lower bound <= estimate <= upper bound).
* each policy's verdict is the worst status of its gated checks, the audit's verdict and exit
  code are what :func:`privgate.results.recompute_verdict` gives, and each generator's
  per-policy verdict agrees with its checks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from privgate.dp_claim import claim_problems
from privgate.policy import Status, worst
from privgate.results import recompute_verdict

#: Numbers closer than this are equal (what JSON round-trips may change).
TOLERANCE = 1e-12


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _status(value: Any) -> Status:
    try:
        return Status(str(value))
    except ValueError:
        return Status.ERROR


def check_problems(check: Mapping[str, Any]) -> list[str]:
    """What in one check contradicts its own numbers (empty when nothing does)."""
    status = str(check.get("status"))
    low, risk, high = (_num(check.get(k)) for k in ("ci_low", "risk", "ci_high"))
    thr = _num(check.get("threshold"))
    raw_cert = check.get("certification")
    cert: Mapping[str, Any] = raw_cert if isinstance(raw_cert, Mapping) else {}
    can = cert.get("can_certify") is not False and check.get("certifiable_on_table") is not False
    where = (f"check {check.get('policy')}/{check.get('generator')}/{check.get('attack')} "
             f"says {status}")
    out = []
    if low is not None and high is not None and low > high + TOLERANCE:
        out.append(f"{where} but its lower bound {low:.4g} is above its upper bound "
                   f"{high:.4g}")
    if risk is not None and ((low is not None and risk < low - TOLERANCE)
                             or (high is not None and risk > high + TOLERANCE)):
        out.append(f"{where} but its estimate {risk:.4g} lies outside its interval")
    if thr is None and status in ("pass", "fail"):
        return [*out, f"{where} without a threshold"]
    if status == "pass":
        if high is None or thr is None or high > thr + TOLERANCE:
            out.append(f"{where} but its upper bound "
                       f"{'is missing' if high is None else f'{high:.4g}'} is not at or below "
                       f"the threshold {thr:.4g}")
        elif not can:
            out.append(f"{where} but its sample cannot certify the threshold {thr:.4g}")
    elif status == "fail":
        if high is None or thr is None or high <= thr + TOLERANCE:
            out.append(f"{where} but its upper bound "
                       f"{'is missing' if high is None else f'{high:.4g}'} is not above the "
                       f"threshold {thr:.4g}")
    elif status == "cannot-certify" and thr is not None:
        if low is not None and low > thr + TOLERANCE:
            out.append(f"{where} but even its lower bound {low:.4g} is above the threshold "
                       f"{thr:.4g} (that is a fail)")
        elif high is not None and high <= thr - TOLERANCE and can and cert:
            out.append(f"{where} but its upper bound {high:.4g} is below the threshold "
                       f"{thr:.4g} and its sample could certify it (that is a pass)")
    return out


def problems(result: Mapping[str, Any]) -> list[str]:
    """Every contradiction in ``result`` between a status or verdict and what it rests on."""
    checks = [c for c in result.get("checks") or [] if isinstance(c, Mapping)]
    out = [p for c in checks for p in check_problems(c)] + claim_problems(result)
    verdict, code = recompute_verdict(result)
    if str(result.get("verdict")) != verdict:
        out.append(f"the verdict says {result.get('verdict')} but its checks give {verdict}")
    if result.get("exit_code") is not None and result.get("exit_code") != code:
        out.append(f"the exit code says {result.get('exit_code')} but its checks give {code}")
    for policy in result.get("policies") or []:
        if not isinstance(policy, Mapping):
            continue
        name = policy.get("name")
        mine = [_status(c.get("status")) for c in checks
                if c.get("policy") == name and c.get("gated", True)]
        if "verdict" in policy and str(policy.get("verdict")) != str(worst(mine)):
            out.append(f"policy {name} says {policy.get('verdict')} but its gated checks give "
                       f"{worst(mine)}")
    for gen in result.get("generators") or []:
        if not isinstance(gen, Mapping) or gen.get("status") == "error":
            continue
        for pname, said in (gen.get("verdicts") or {}).items():
            mine = [_status(c.get("status")) for c in checks
                    if c.get("policy") == pname and c.get("generator") == gen.get("name")]
            if mine and str(said) != str(worst(mine)):
                out.append(f"generator {gen.get('name')} says {said} for {pname} but its "
                           f"checks give {worst(mine)}")
    return out


__all__ = ["check_problems", "problems"]
