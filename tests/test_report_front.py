"""Page 1 of the report puts usefulness beside risk: the distinguishability AUROC and every
metric's value before and after the synthetic data, read from the typed evidence (an attack's
``risk_kind`` and ``auroc``, a metric's ``baseline``), never from a plugin's name."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from privgate.isolation import Origin, PluginFault
from privgate.metric import MetricResult
from privgate.reports.html import render
from privgate.validate import metric_result

FIXTURE = Path(__file__).parent / "fixtures" / "example_results.json"


def _result(lang: str = "en") -> dict[str, Any]:
    """The fixture with a third-party augmentation-like metric (an unknown name) whose
    minority-class F1 went from 0.947 without synthetic rows to 0.768 with them, and a
    distinguishability attack under an unknown name with AUROC 0.91."""
    result = json.loads(FIXTURE.read_text(encoding="utf-8"))
    result["lang"] = lang
    gen = next(g for g in result["generators"] if g.get("gated", True))
    gen["metrics"].append({
        "metric": "rare-boost", "status": "ok", "value": 0.768, "description": "F1.",
        "interval": {"low": 0.70, "high": 0.82, "level": 0.95, "method": "bootstrap"},
        "figures": [], "details": {}, "baseline": 0.947,
        "baseline_description": "real rows only"})
    result["catalog"]["metrics"]["rare-boost"] = {
        "description": "F1.", "title": "Rare-class augmentation (minority-class F1)",
        "assumptions": "", "references": []}
    for att in gen["attacks"]:
        if att.get("risk_kind") == "distinguishability":
            att["attack"] = "who-is-real"
            att["auroc"] = {"value": 0.91, "interval": {"low": 0.9, "high": 0.92,
                                                        "level": 0.95, "method": "bootstrap"}}
    return result


def _worth(html: str) -> str:
    """The visible text of page 1's "usefulness beside risk" block."""
    block = re.search(r'<div id="worth".*?</div>\s*</div>\s*</div>', html, flags=re.S)
    assert block, "page 1 has no usefulness block"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", block.group(0)))


def test_page_one_shows_distinguishability_auroc_and_before_after() -> None:
    text = _worth(render(_result(), []))
    assert "Real and synthetic rows told apart" in text
    assert "AUROC 0.91" in text and "0.5: no better than chance; 1: always" in text
    assert "Rare-class augmentation (minority-class F1)" in text
    assert "0.768 [0.7, 0.82] (real rows only: 0.947)" in text


def test_page_one_in_korean_has_the_same_figures_in_korean_words() -> None:
    text = _worth(render(_result("ko"), []))
    assert "AUROC 0.91" in text
    assert "0.768 [0.7, 0.82] (실제 행만: 0.947)" in text
    assert "real rows only" not in text and "no better than chance" not in text


def test_a_baseline_without_description_is_called_without_synthetic_data() -> None:
    result = _result()
    gen = next(g for g in result["generators"] if g.get("gated", True))
    gen["metrics"][-1]["baseline_description"] = ""
    assert "(without synthetic data: 0.947)" in _worth(render(result, []))


def test_no_baseline_no_before_after() -> None:
    result = _result()
    gen = next(g for g in result["generators"] if g.get("gated", True))
    for metric in gen["metrics"]:
        metric.pop("baseline", None)
    assert "without synthetic data" not in _worth(render(result, []))
    text = _worth(render(result, []))
    assert "real rows only" not in text and "0.768 [0.7, 0.82]" in text


def test_older_results_without_auroc_show_the_risk() -> None:
    result = _result()
    for gen in result["generators"]:
        for att in gen["attacks"]:
            att.pop("auroc", None)
    assert "0: a classifier cannot tell them apart" in _worth(render(result, []))


@pytest.mark.parametrize("baseline", [math.nan, math.inf, "0.9", True])
def test_a_metric_baseline_must_be_a_finite_number(baseline: Any) -> None:
    bad = MetricResult("m", 0.5, "d", baseline=baseline)
    with pytest.raises(PluginFault, match="baseline"):
        metric_result(bad, name="m", origin=Origin("metric m"))
    good = metric_result(copy.copy(MetricResult("m", 0.5, "d", baseline=0.25,
                                                baseline_description="before")),
                         name="m", origin=Origin("metric m"))
    assert (good.baseline, good.to_dict()["baseline_description"]) == (0.25, "before")


@pytest.mark.parametrize(("status", "marked"), [("pass", False), ("cannot-certify", True)])
def test_low_power_is_flagged_only_where_the_check_did_not_pass(status: str,
                                                                marked: bool) -> None:
    """A pass is earned by its own upper bound, however unlikely it was; a check that did not
    pass with little power says so (the reader should not expect it to pass on a re-run)."""
    from privgate.reports.i18n import Lang
    from privgate.reports.view_checks import power_view

    view = power_view({"status": status, "power": 0.397, "trials_run": 4657,
                       "trials_needed": 4051}, Lang.get("en"))
    assert view["power"] == Lang.get("en").pct(0.397)
    assert view["underpowered"] is marked
    assert (view["power_word"] == "too little power") is marked
