"""A policy profile: stricter inference and membership limits for a research data release."""

from __future__ import annotations

from privgate import Policy, hookimpl

#: The privgate plugin API this module was written for (a different major is not loaded).
PRIVGATE_PLUGIN_API = "1"

RESEARCH_RELEASE = Policy(
    name="example-research-release",
    title="Research release (example profile)",
    description=(
        "For synthetic tables shared with approved researchers: attribute inference and "
        "membership advantage at most 0.05, singling out and linkability at most 0.09 (upper "
        "confidence bounds)."),
    thresholds={"inference": 0.05, "membership": 0.05, "singling-out": 0.09,
                "linkability": 0.09},
    references=("Example profile for the privgate plugin tutorial; choose thresholds with your "
                "data protection officer.",),
)


@hookimpl
def privgate_policies() -> list[Policy]:
    """The example policy profile."""
    return [RESEARCH_RELEASE]
