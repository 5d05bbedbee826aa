"""The verdict and the checks, as the report's first screen shows them: the verdict in words,
every check's message built from its numbers, the checks that decided the verdict, each policy
with its forest plot, and the warnings a reader must see before trusting the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from privgate.reports import charts
from privgate.reports.common import as_list, as_map, as_number, as_text, status_of, status_view
from privgate.reports.i18n import Lang

#: A check that did not pass and whose power (the chance that a table leaking nothing passes
#: it) is below this is marked as having too little power to certify anything (a check that
#: passed earned it with its own upper bound, whatever its odds were).
POWER_ENOUGH = 0.8


def verdict_sentence(status: str, lang: Lang) -> str:
    """What the overall verdict means, in one or two plain sentences."""
    if status == "pass":
        return lang.gettext(
            "Every gated privacy check passed: for each attack, even the pessimistic end of "
            "the estimated risk (the upper bound of its confidence interval) is at or below the "
            "policy's threshold.")
    if status == "fail":
        return lang.gettext(
            "At least one gated privacy check failed: the measured risk is above the policy's "
            "threshold. This synthetic data should not be released as it is.")
    if status == "cannot-certify":
        return lang.gettext(
            "The audit could not show that the risk is below the threshold, usually because "
            "the attacks ran too few trials to be sure. This is not a pass: do not release "
            "without further evidence.")
    return lang.gettext(
        "The audit did not complete: at least one generator or attack failed to run, so no "
        "conclusion can be drawn. Do not release on the basis of this report.")


def _first(check: Mapping[str, Any], *keys: str) -> Any:
    """The first of ``keys`` the check's ``certification`` block (or the check) holds."""
    cert = as_map(check.get("certification"))
    for key in keys:
        for where in (cert, check):
            if where.get(key) is not None:
                return where.get(key)
    return None


def check_message(check: Mapping[str, Any], lang: Lang) -> str:
    """Why a check has its status, in the report's language (built from the numbers)."""
    status = status_of(check.get("status"))
    level = lang.level(check.get("confidence_level"))
    hi = lang.num(_first(check, "ci_high", "upper_bound"))
    thr = lang.num(check.get("threshold"))
    if status == "pass":
        return lang.gettext("pass: the upper %(level)s bound %(high)s is at or below the "
                            "threshold %(thr)s", level=level, high=hi, thr=thr)
    if status == "fail":
        if (as_number(check.get("ci_low")) or 0) > (as_number(check.get("threshold")) or 0):
            return lang.gettext("fail: even the lower bound %(low)s is above the threshold "
                                "%(thr)s", low=lang.num(check.get("ci_low")), thr=thr)
        return lang.gettext("fail: the upper %(level)s bound %(high)s is above the threshold "
                            "%(thr)s", level=level, high=hi, thr=thr)
    if status == "cannot-certify":
        if check.get("certifiable_on_table") is False:
            return lang.gettext(
                "cannot be certified on this table: even a table that leaks nothing would "
                "show an upper bound above the threshold %(thr)s with all the records this "
                "table has", thr=thr)
        need = as_number(_first(check, "trials_needed"))
        have = as_number(_first(check, "trials_run", "trials_available", "n_trials"))
        if need is not None and have is not None and need > have:
            return lang.gettext(
                "cannot certify: the upper %(level)s bound %(high)s is above the threshold "
                "%(thr)s, and with %(have)s trials no result could get below it; it needs "
                "about %(need)s records", level=level, high=hi, thr=thr,
                have=lang.count(have), need=lang.count(need))
        if as_number(check.get("ci_high")) is None:
            text = as_text(check.get("message"))
            return lang.plugin(text) if text else lang.gettext("cannot certify")
        return lang.gettext("cannot certify: the upper %(level)s bound %(high)s is above the "
                            "threshold %(thr)s", level=level, high=hi, thr=thr)
    message = as_text(check.get("message"))
    return lang.plugin(message) or lang.gettext("the check could not be evaluated")


def short_message(check: Mapping[str, Any], lang: Lang) -> str:
    """Why a check has its status in a few words, for the checks table of page 2 (its
    numbers stand in the other columns)."""
    status = status_of(check.get("status"))
    thr = as_number(check.get("threshold"))
    if status == "pass":
        return lang.gettext("upper bound ≤ threshold")
    if status == "fail":
        if thr is not None and (as_number(check.get("ci_low")) or 0) > thr:
            return lang.gettext("even the lower bound > threshold")
        return lang.gettext("upper bound > threshold")
    if status == "cannot-certify":
        if check.get("certifiable_on_table") is False:
            return lang.gettext("cannot be certified on this table")
        need = as_number(_first(check, "trials_needed"))
        have = as_number(_first(check, "trials_run", "trials_available", "n_trials"))
        if need is not None and have is not None and need > have:
            return lang.gettext("too few trials: needs about %(need)s",
                                need=lang.count(need))
    return check_message(check, lang)


def power_view(check: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    """Trials run and needed, the power and whether the table can certify the check at all
    (results written before these keys existed show what they have)."""
    run = as_number(_first(check, "trials_run", "n_trials"))
    planned = as_number(check.get("trials_planned"))
    need = as_number(_first(check, "trials_needed"))
    power = as_number(check.get("power"))
    certifiable = check.get("certifiable_on_table")
    trials = lang.count(run)
    if planned is not None and run is not None and planned > run:
        trials = lang.gettext("%(run)s of %(planned)s planned", run=lang.count(run),
                              planned=lang.count(planned))
    passed = status_of(check.get("status")) == "pass"
    if power is None or passed:  # a pass is earned by its own bound, whatever its odds
        verdict = ""
    elif power >= POWER_ENOUGH:
        verdict = lang.gettext("enough power")
    else:
        verdict = lang.gettext("too little power")
    return {
        "trials": trials, "run": lang.count(run),
        "needed": lang.count(need) if need is not None else "",
        "power": lang.pct(power) if power is not None else "", "power_word": verdict,
        "underpowered": power is not None and power < POWER_ENOUGH and not passed,
        "certifiable": certifiable if isinstance(certifiable, bool) else None,
        "warnings": [lang.plugin(as_text(w)) for w in as_list(check.get("warnings"))],
    }


def check_view(check: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    """One check, formatted."""
    return {
        "policy": as_text(check.get("policy"), "?"),
        "generator": as_text(check.get("generator"), "?"),
        "attack": as_text(check.get("attack"), "?"),
        "risk_kind": as_text(check.get("risk_kind")),
        "risk": lang.num(check.get("risk")),
        "interval": lang.interval(check.get("ci_low"), check.get("ci_high"),
                                  check.get("confidence_level")),
        "bounds": lang.interval(check.get("ci_low"), check.get("ci_high")),
        "threshold": lang.num(check.get("threshold")), "n_trials": lang.count(
            check.get("n_trials")),
        "message": check_message(check, lang), "short": short_message(check, lang),
        "gated": bool(check.get("gated", True)),
        "st": status_view(check.get("status"), lang), "power": power_view(check, lang),
    }


def _margin(check: Mapping[str, Any]) -> float:
    """How close a check came to its threshold (upper bound / threshold; larger = closer)."""
    hi, thr = as_number(check.get("ci_high")), as_number(check.get("threshold"))
    if hi is None or thr is None:
        return math.inf
    return hi / thr if thr > 0 else (math.inf if hi > 0 else 0.0)


def deciding(result: Mapping[str, Any], checks: list[Mapping[str, Any]], lang: Lang,
             limit: int = 2) -> dict[str, Any]:
    """Which checks (at most ``limit``) decided the verdict, in words, formatted (``checks``)
    and as they are (``raw``)."""
    verdict = status_of(result.get("verdict"))
    gated = [c for c in checks if c.get("gated", True)]
    if not gated:
        return {"text": lang.gettext("No gated check was run, so nothing could be certified."),
                "checks": [], "raw": []}
    if verdict == "pass":
        closest = max(gated, key=_margin)
        return {"text": lang.ngettext(
            "The one gated check passed:",
            "All %(num)s gated checks passed. The closest to its threshold was:", len(gated)),
            "checks": [check_view(closest, lang)], "raw": [closest]}
    chosen = [c for c in gated if status_of(c.get("status")) == verdict]
    if not chosen:
        chosen = [c for c in gated if status_of(c.get("status")) != "pass"]
    chosen.sort(key=_margin, reverse=True)
    text = lang.gettext("%(num)s of %(total)s gated checks decided this verdict",
                        num=lang.count(len(chosen)), total=lang.count(len(gated)))
    if len(chosen) > limit:
        text += lang.gettext("; the %(n)s furthest above their thresholds:",
                             n=lang.count(limit))
    else:
        text += lang.gettext(":")
    return {"text": text, "checks": [check_view(c, lang) for c in chosen[:limit]],
            "raw": chosen[:limit]}


def policies_view(result: Mapping[str, Any], checks: list[Mapping[str, Any]], lang: Lang
                  ) -> list[dict[str, Any]]:
    """Each policy: verdict, thresholds, references and the forest plot of its checks."""
    out = []
    for pol in as_list(result.get("policies")):
        pol = as_map(pol)
        pname = as_text(pol.get("name"), "?")
        pchecks = [c for c in checks if as_text(c.get("policy")) == pname]
        out.append({
            "name": pname, "title": lang.plugin(as_text(pol.get("title"), pname)),
            "third_party": third_party_label(pol, lang),
            "description": lang.plugin(as_text(pol.get("description"))),
            "thresholds": [(kind_label(as_text(k), lang), lang.num(v))
                           for k, v in as_map(pol.get("thresholds")).items()],
            "references": [as_text(r) for r in as_list(pol.get("references"))],
            "st": status_view(pol.get("verdict"), lang),
            "forest": charts.forest_plot(pchecks, lang.gettext(
                "Risk estimates with confidence intervals against the thresholds of policy "
                "%(policy)s", policy=pname), lang=lang) if pchecks else None,
        })
    return out


def kind_label(kind: str, lang: Lang) -> str:
    """A risk kind in words ("membership" -> "Membership inference"), the kind itself when
    privgate does not know it."""
    labels = {"singling-out": lang.gettext("Singling out"),
              "linkability": lang.gettext("Linkability"),
              "inference": lang.gettext("Attribute inference"),
              "membership": lang.gettext("Membership inference"),
              "identity-disclosure": lang.gettext("Identity disclosure"),
              "distinguishability": lang.gettext("Distinguishability"),
              "verbatim-copy": lang.gettext("Verbatim copies"),
              "membership-low-fpr": lang.gettext("Membership at few false alarms"),
              "canary-membership": lang.gettext("Canary audit of the claimed ε")}
    return labels.get(kind, kind)


def third_party_label(policy: Mapping[str, Any], lang: Lang) -> str:
    """"third-party policy from DIST VERSION" for a policy privgate does not ship, else ""."""
    if policy.get("builtin", True) is not False:
        return ""
    return lang.gettext("third-party policy from %(dist)s %(version)s",
                        dist=as_text(policy.get("distribution"), lang.gettext("unknown")),
                        version=as_text(policy.get("version"), "")).strip()


def warnings(result: Mapping[str, Any], gens: list[dict[str, Any]], lang: Lang
              ) -> list[dict[str, Any]]:
    """What a reader must know before trusting the verdict."""
    warnings = []
    dd = [as_text(c) for c in as_list(result.get("data_dependent_domains"))]
    if dd:
        warnings.append({"title": lang.gettext("Some column domains were read from the data"),
                         "text": lang.gettext(
                             "These columns' categories or bounds were read from the real data "
                             "and are not privacy-protected: the synthetic data may reveal, for "
                             "example, that a rare category exists. Declare them in the schema "
                             "from public sources to fix this."), "names": dd})
    for g in gens:
        if not g["private"]:
            text = lang.gettext("This generator is not differentially private: its output "
                                "carries no formal privacy guarantee.") + " "
            text += (lang.gettext("It is gated, so the verdict depends on it.") if g["gated"]
                     else lang.gettext("It is a baseline for comparison only and does not "
                                       "affect the verdict."))
            warnings.append({"title": lang.gettext("Generator %(name)s is not private",
                                                   name=g["name"]), "text": text, "names": []})
        if g["status"] != "ok" or g["error"]:
            warnings.append({"title": lang.gettext("Generator %(name)s failed", name=g["name"]),
                             "text": g["error"] or lang.gettext(
                                 "The generator did not produce data."), "names": []})
        if g["failed_attacks"]:
            warnings.append({"title": lang.gettext("Attacks failed on %(name)s", name=g["name"]),
                             "text": lang.gettext("These attacks did not produce a result; a "
                                                  "failed gated attack makes the verdict "
                                                  "'error'."), "names": g["failed_attacks"]})
    return warnings
