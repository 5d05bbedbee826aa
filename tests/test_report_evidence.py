"""The report draws typed evidence and figures by type, whoever returned them.

A third-party attack's ROC curve, AUROC and TPR at FPR, and a third-party metric's bar chart,
line chart, heat map and table appear exactly as a built-in's would; renaming a built-in changes
nothing; ``details`` keys are never read from a current document; a results.json written before
schema 1.1 still renders (its attack evidence read from the old ``details`` keys); a figure
that does not fit is named, not drawn; small counts in figures are suppressed.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from privgate.evidence import Estimate, Interval, RocCurve
from privgate.figures import BarChart, HeatMap, LineChart, Series, Table, to_plain
from privgate.reporting import ReportSection
from privgate.reports.html import render
from privgate.results import load_result

FIXTURES = Path(__file__).parent / "fixtures"
REPORTS = Path(__file__).parents[1] / "reports"


@pytest.fixture
def result() -> dict[str, Any]:
    return json.loads((FIXTURES / "example_results.json").read_text(encoding="utf-8"))


def _svgs(html: str, css_class: str) -> list[str]:
    return re.findall(rf'<svg class="chart {css_class}".*?</svg>', html, re.S)


def _plugin_attack(base: dict[str, Any]) -> dict[str, Any]:
    att = copy.deepcopy(base)
    att.update(attack="acme-attack", risk_kind="membership", details={}, trials_planned=900,
               n_trials=600,
               roc=RocCurve((0.0, 0.001, 0.01, 0.1, 1.0), (0.0, 0.2, 0.4, 0.7, 1.0)).to_dict(),
               auroc=Estimate(0.8, Interval(0.75, 0.85, 0.95, "DeLong")).to_dict(),
               tpr_at_fpr=[{"fpr": 0.001, "tpr": 0.2}, {"fpr": 0.01, "tpr": 0.4}],
               figures=[to_plain(BarChart("Acme attack rates", ("hits", "misses"),
                                          (0.3, 0.7), caption="Acme caption"))])
    return att


def test_a_plugin_attack_gets_the_same_charts_as_a_builtin(result: dict[str, Any]) -> None:
    gen = result["generators"][0]
    gen["attacks"] = [_plugin_attack(gen["attacks"][3])]
    result["generators"], result["checks"] = [gen], []
    html = render(result, [])
    (roc,) = _svgs(html, "roc")
    assert "ROC curve of acme-attack on dpsgd-vae" in roc and "AUROC 0.8." in roc
    assert "dpsgd-vae: AUROC 0.8 (0.5 = guessing) [0.75, 0.85] (95%)." in html
    assert "Members caught (TPR)" in html and ">0.1%<" in html and ">20%<" in html
    bars = [b for b in _svgs(html, "bars") if "Acme attack rates" in b]
    assert len(bars) == 1 and "hits: 0.3" in bars[0] and "Acme caption" in html
    assert "600 attack trials of 900 planned" in html


def test_a_plugin_metric_gets_every_kind_of_figure(result: dict[str, Any]) -> None:
    figures = [BarChart("Acme bars", ("a", "b"), (0.1, None), caption="Bars caption",
                        axis_label="score"),
               LineChart("Acme lines", (Series("first", (0, 1, 2), (0.0, 0.5, 0.7)),
                                        Series("second", (0, 1, 2), (0.1, 0.2, 0.9))),
                         caption="Lines caption", x_label="epochs", y_label="loss"),
               HeatMap("Acme heat", ("r1", "r2"), ("c1", "c2", "c3"),
                       ((0.1, 0.2, None), (0.3, 0.4, 0.5)), caption="Heat caption"),
               Table(("name", "score"), (("x", 0.25), ("y", None)), caption="Table caption")]
    metric = {"metric": "acme-metric", "status": "ok", "value": 0.42, "description": "Acme.",
              "interval": Interval(0.4, 0.44, 0.95, "bootstrap").to_dict(),
              "figures": [to_plain(f) for f in figures], "details": {"k": 1}}
    result["generators"] = [{**result["generators"][0], "metrics": [metric], "attacks": []}]
    result["catalog"]["metrics"]["acme-metric"] = {"description": "Acme.", "title": "Acme Title",
                                                   "assumptions": "Acme assumes.",
                                                   "references": ["Acme 2025."]}
    html = render(result, [])
    assert "Acme Title: 0.42" in html and "[0.4, 0.44] (95%)" in html
    assert len(_svgs(html, "bars")) == 1
    (lines,) = _svgs(html, "line")
    assert "first" in lines and "second" in lines and "epochs" in lines
    heat = [h for h in _svgs(html, "heatmap") if "Acme heat" in h]
    assert heat and heat[0].count("<rect") == 6 + 6  # every cell, and the legend
    for caption in ("Bars caption", "Lines caption", "Heat caption", "Table caption"):
        assert caption in html
    assert "Acme assumes." in html and "Acme 2025." in html


def test_renaming_a_builtin_changes_nothing_but_its_name(result: dict[str, Any]) -> None:
    before = render(result, [])
    for gen in result["generators"]:
        for m in gen["metrics"]:
            m["metric"] = "renamed-" + m["metric"]
        for a in gen["attacks"]:
            a["attack"] = "renamed-" + a["attack"]
    for c in result["checks"]:
        c["attack"] = "renamed-" + c["attack"]
    after = render(result, [])
    for css in ("roc", "bars", "heatmap"):
        assert len(_svgs(after, css)) == len(_svgs(before, css)) > 0


def test_details_keys_are_not_read_from_a_current_document(result: dict[str, Any]) -> None:
    for gen in result["generators"]:
        for att in gen["attacks"]:
            if att.get("roc"):
                att["details"]["roc"], att["roc"] = att["roc"], None
                att["details"]["auroc"], att["auroc"] = 0.9, None
                att["tpr_at_fpr"] = []
    html = render(result, [])
    assert not _svgs(html, "roc") and "Members caught (TPR)" not in html


def test_a_result_from_schema_1_0_still_renders() -> None:
    old = load_result(FIXTURES / "example_results_1_0.json")
    assert old["schema_version"] == "1.0"
    html = render(old, [])
    assert "Verdict: PASS" in html
    assert len(_svgs(html, "roc")) == 4  # read from the old details keys
    assert "Members caught (TPR)" in html
    assert not _svgs(html, "heatmap")  # 1.0 metrics carried no figures: details only
    assert "Details of hellinger" in html


def test_a_figure_that_does_not_fit_is_named_not_drawn(result: dict[str, Any]) -> None:
    bars = result["generators"][0]["metrics"][0]["figures"][0]
    bars["values"] = bars["values"][:-1]
    result["generators"][0]["attacks"][3]["roc"] = {"fpr": [0, 0.5, 0.2, 1], "tpr": [0, 1, 1, 1]}
    html = render(result, [])
    assert "A figure could not be shown:" in html and "labels for" in html
    assert len(_svgs(html, "roc")) == 3  # a ROC curve that is not monotone is left out


def test_small_counts_in_figures_are_suppressed(result: dict[str, Any]) -> None:
    section = ReportSection("counts", "Counts", (
        Table(("group", "n_records"), (("a", 3), ("b", 40))),
        BarChart("Records per group", ("a", "b"), (3, 40), axis_label="record count")))
    html = render(result, [section])
    part = html[html.index('id="section-0"'):]
    assert "fewer than 10" in part and ">40<" in part
    (bars,) = [b for b in _svgs(part, "bars") if "Records per group" in b]
    assert "a: n/a" in bars and "b: 40" in bars


def test_sections_carry_charts(result: dict[str, Any]) -> None:
    section = ReportSection("acme", "Acme section", (
        LineChart("Acme curve", (Series("s", (0.001, 0.01, 1.0), (0.1, 0.3, 1.0)),),
                  x_log=True, diagonal=True, caption="A curve on a log axis"),))
    html = render(result, [section])
    (line,) = _svgs(html, "line")
    assert ">0.001<" in line and "stroke-dasharray=\"5 4\"" in line
    assert "A curve on a log axis" in html


def test_reports_know_no_plugin_by_name() -> None:
    """No report module or template names a built-in attack or metric (risk kinds, such as
    "distinguishability", are the contract's own vocabulary)."""
    names = ("hellinger", "correlation", "tstr", "augmentation", "anonymeter", "dcr",
             "density", "shadow", "singling-out-", "knn")
    for path in [*REPORTS.glob("*.py"), *(REPORTS / "templates").glob("*.j2")]:
        text = path.read_text(encoding="utf-8").lower()
        found = [n for n in names if n in text]
        assert not found, (path.name, found)
