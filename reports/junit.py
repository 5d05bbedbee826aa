"""The JUnit reporter: policy checks as JUnit XML (``junit.xml``) for CI systems.

Layout::

    <testsuites name="privgate" tests=.. failures=.. errors=.. skipped=..>
      <testsuite name="<policy>" tests=.. failures=.. errors=.. skipped=.. timestamp=..>
        <properties> verdict, dataset, data fingerprint, privgate version </properties>
        <testcase classname="privgate.<generator>" name="<attack> <= <threshold>">
          <failure message="<check message>" type="fail|cannot-certify">..</failure>
          <error message="<check message>" type="error">..</error>
          <skipped message="baseline, not gated">..</skipped>
          <system-out> estimate, interval, trials </system-out>
        </testcase>

One ``<testsuite>`` per policy, one ``<testcase>`` per check. A check's status maps to:

* ``pass`` -> a passing test case;
* ``fail`` and ``cannot-certify`` -> ``<failure>`` (``type`` tells which): neither may release;
* ``error`` -> ``<error>``.

**Non-gated checks** (baseline generators, ``gated: false``) are reported as ``<skipped
message="baseline, not gated">`` whatever their status, because they do not decide the verdict
and CI must not go red on them; the skipped element's text still states their real status and
message, so the information is not lost.

A last ``<testsuite name="dp-claim">`` holds one case per private generator whose claimed
epsilon was tested (``privgate.dp_claim``): a refuted or uncertifiable claim is a
``<failure>``, one that does not gate (no evidence) ``<skipped>``.

Every string is stripped of characters that XML 1.0 cannot hold (control characters, lone
surrogates); ElementTree escapes the rest, so hostile plugin or column names cannot break the
file.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from privgate.reporting import Reporter, ReportSection

_INVALID_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: Any) -> str:
    """``value`` as text that XML 1.0 can hold."""
    return _INVALID_XML.sub("\ufffd", "" if value is None else str(value))


def _num(value: Any) -> str:
    """A number as short text ('n/a' when missing)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a"
    return f"{value:.4g}"


def _summary(check: Mapping[str, Any]) -> str:
    """One line with the check's figures."""
    level = check.get("confidence_level")
    lvl = f"{level:.0%}" if isinstance(level, int | float) and not isinstance(level, bool) \
        else "n/a"
    return (f"status={xml_text(check.get('status'))} risk={_num(check.get('risk'))} "
            f"interval=[{_num(check.get('ci_low'))}, {_num(check.get('ci_high'))}] ({lvl}) "
            f"threshold={_num(check.get('threshold'))} trials={_num(check.get('n_trials'))} "
            f"risk_kind={xml_text(check.get('risk_kind'))} "
            f"gated={'yes' if check.get('gated', True) else 'no'}\n"
            f"{xml_text(check.get('message'))}")


def build(result: Mapping[str, Any]) -> ET.Element:
    """The ``<testsuites>`` element for ``result``."""
    checks = [c for c in result.get("checks") or [] if isinstance(c, Mapping)]
    policies = [p for p in result.get("policies") or [] if isinstance(p, Mapping)]
    order = [str(p.get("name")) for p in policies]
    order += [str(c.get("policy")) for c in checks if str(c.get("policy")) not in order]
    order = list(dict.fromkeys(order))
    verdicts = {str(p.get("name")): p.get("verdict") for p in policies}
    # a policy privgate does not ship is marked in the suite name CI shows
    labels = {str(p.get("name")): (
        f"{p.get('name')} (third-party policy from {p.get('distribution')} "
        f"{p.get('version') or ''})".replace(" )", ")")
        if p.get("builtin", True) is False else str(p.get("name"))) for p in policies}
    dataset: Mapping[str, Any] = (result["dataset"] if isinstance(result.get("dataset"), Mapping)
                                  else {})
    stamps: Mapping[str, Any] = (result["timestamps"]
                                 if isinstance(result.get("timestamps"), Mapping) else {})
    root = ET.Element("testsuites", name="privgate")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for policy in order:
        suite = ET.SubElement(root, "testsuite", name=xml_text(labels.get(policy, policy)))
        if stamps.get("started_at"):
            suite.set("timestamp", xml_text(stamps.get("started_at")))
        props = ET.SubElement(suite, "properties")
        for name, value in (("policy_verdict", verdicts.get(policy, "n/a")),
                            ("policy_origin", labels.get(policy, policy)),
                            ("audit_verdict", result.get("verdict")),
                            ("dataset", dataset.get("name")),
                            ("dataset_sha256", dataset.get("sha256")),
                            ("config_sha256", result.get("config_sha256")),
                            ("privgate_version", result.get("privgate_version"))):
            ET.SubElement(props, "property", name=name, value=xml_text(value))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for check in (c for c in checks if str(c.get("policy")) == policy):
            counts["tests"] += 1
            case = ET.SubElement(
                suite, "testcase", classname=xml_text(f"privgate.{check.get('generator')}"),
                name=xml_text(f"{check.get('attack')} <= {_num(check.get('threshold'))}"),
                time="0")
            status = str(check.get("status"))
            message = xml_text(check.get("message"))
            if not check.get("gated", True):
                counts["skipped"] += 1
                el = ET.SubElement(case, "skipped", message="baseline, not gated")
                el.text = f"baseline, not gated; {_summary(check)}"
            elif status in ("fail", "cannot-certify"):
                counts["failures"] += 1
                el = ET.SubElement(case, "failure", message=message, type=status)
                el.text = _summary(check)
            elif status != "pass":
                counts["errors"] += 1
                el = ET.SubElement(case, "error", message=message, type="error")
                el.text = _summary(check)
            ET.SubElement(case, "system-out").text = _summary(check)
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    _claims_suite(root, result, totals)
    for key, value in totals.items():
        root.set(key, str(value))
    return root


def _claims_suite(root: ET.Element, result: Mapping[str, Any], totals: dict[str, int]) -> None:
    """A ``dp-claim`` suite: one case per private generator whose claimed epsilon was tested
    (:mod:`privgate.dp_claim`); a refuted claim is a failure, an ungated one skipped."""
    claims = [g["dp_claim"] for g in result.get("generators") or [] if isinstance(g, Mapping)
              and isinstance(g.get("dp_claim"), Mapping)
              and g["dp_claim"].get("status") in ("pass", "fail", "cannot-certify")]
    if not claims:
        return
    suite = ET.SubElement(root, "testsuite", name="dp-claim")
    counts = {"tests": len(claims), "failures": 0, "errors": 0, "skipped": 0}
    for claim in claims:
        case = ET.SubElement(suite, "testcase",
                             classname=xml_text(f"privgate.{claim.get('generator')}"),
                             name=xml_text(f"epsilon >= bound: claimed "
                                           f"{_num(claim.get('claimed_epsilon'))}"), time="0")
        message, status = xml_text(claim.get("message")), str(claim.get("status"))
        if claim.get("gated") is not True:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message="not gated").text = message
        elif status != "pass":
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=message, type=status).text = message
        ET.SubElement(case, "system-out").text = message
    for key, value in counts.items():
        suite.set(key, str(value))
        totals[key] += value


def dumps(result: Mapping[str, Any]) -> str:
    """The text of ``junit.xml``."""
    root = build(result)
    ET.indent(root)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, encoding="unicode") + "\n")


class JUnitReporter(Reporter):
    """Writes the policy checks as JUnit XML so that CI shows each check as a test."""

    format = "junit"
    filename = "junit.xml"
    description = "Policy checks as JUnit XML for CI (one suite per policy)."

    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        """The text of ``junit.xml``."""
        return dumps(result)
