"""Built-in threshold policies.

References for the figures:

* 0.09 -- a re-identification risk threshold often used in HIPAA expert determinations (HIPAA
  itself sets no number) and the one the European Medicines Agency uses for clinical-trial data
  publication (EMA Policy 0070 guidance, 2018; El Emam, "Guide to the De-Identification of
  Personal Health Information", 2013).
* 0.04% (0.0004) -- the population re-identification risk associated with HIPAA's Safe Harbor
  method (Benitez & Malin, JAMIA 2010, estimated 0.01%-0.25% across US states; 0.04% is the
  figure commonly cited for Safe Harbor data).
"""

from __future__ import annotations

from privgate import hookimpl
from privgate.policy import Policy

REID_KINDS = ("singling-out", "linkability", "inference", "membership",
              "identity-disclosure")

EXPERT_DETERMINATION = Policy(
    name="expert-determination-0.09",
    title="Expert determination (0.09)",
    description=(
        "Every re-identification-type risk (singling out, linkability, attribute inference, "
        "membership advantage, and above all the identity-disclosure rate of El Emam et al. "
        "2020, the figure this threshold is meant for) must have an upper confidence bound of "
        "at most 0.09, a threshold often used in HIPAA expert determinations (HIPAA sets no "
        "number) and the one EMA Policy 0070 uses."),
    thresholds={kind: 0.09 for kind in REID_KINDS},
    references=(
        "European Medicines Agency, External guidance on the implementation of Policy 0070, "
        "EMA/90915/2016 (2018).",
        "K. El Emam, Guide to the De-Identification of Personal Health Information, CRC Press "
        "(2013).",
        "K. El Emam, L. Mosquera and J. Bass, Evaluating identity disclosure risk in fully "
        "synthetic health data, J Med Internet Res 22(11):e23139 (2020).",
    ),
)

STRICT = Policy(
    name="strict-0.04pct",
    title="Strict (0.04%)",
    description=(
        "Re-identification-type risks and the real-vs-synthetic distinguishability score must "
        "have upper confidence bounds of at most 0.0004 (0.04%), the level associated with "
        "HIPAA Safe Harbor. Certifying it needs thousands of attack trials."),
    thresholds={**{kind: 0.0004 for kind in REID_KINDS}, "distinguishability": 0.0004},
    references=(
        "45 CFR 164.514(b)(2) (HIPAA Safe Harbor).",
        "F. Benitez and B. Malin, Evaluating re-identification risks with respect to the HIPAA "
        "privacy rule, JAMIA 17(2) (2010).",
    ),
)


@hookimpl
def privgate_policies() -> list[Policy]:
    """privgate's built-in policies."""
    return [EXPERT_DETERMINATION, STRICT]
