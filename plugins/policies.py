"""Built-in threshold policies, and where their figures come from.

* 0.09 -- the re-identification risk threshold of the European Medicines Agency's guidance on
  publishing clinical-trial data (EMA Policy 0070 external guidance, 2018) and of Health
  Canada's guidance on the public release of clinical information (2019), both drawing on El
  Emam's work on de-identifying health data (Guide to the De-Identification of Personal Health
  Information, 2013; for synthetic data, El Emam, Mosquera & Bass, 2020). HIPAA's expert
  determination (45 CFR 164.514(b)(1)) asks only that the risk be "very small" and names no
  number; 0.09 is a figure experts cite, not HIPAA's.
* 0.04% (0.0004) -- the share of people re-identifiable in data released under HIPAA's Safe
  Harbor method as Benitez & Malin (JAMIA 2010) estimated it (0.01% to 0.25% across US states;
  0.04% the figure commonly cited). It is a per-record re-identification probability, so the
  strict profile applies it to the checks that measure one: identity disclosure and verbatim
  copies of unique records.
* Verbatim copies (``verbatim-copy``) -- a synthetic row that repeats a training record no other
  record shares discloses that person whole, with certainty. No release may show more such
  copies than chance gives: both profiles *fail* a check as soon as the excess share of unique
  training records copied is demonstrably above 0 (its one-sided lower bound above 0; a
  generator that copies nothing fails with probability at most alpha). A *pass* needs the
  excess bounded: below 0.2% in the expert profile -- certifiable with about 1,850 unique
  training records and no copies, so on tables from about 2,700 rows -- and below the Safe
  Harbor figure, 0.04%, in the strict one (about 9,200 unique training records). A generator
  that copies 0.1% of its training rows fails on tables of tens of thousands of rows, one that
  copies 1% on tables of a few thousand (``benchmarks/results/calibration.md``).
* Low-FPR membership (``membership-low-fpr``, 0.005) -- at a false-alarm rate of 0.1%, fixed on
  held-out control rows, the attacker may flag at most half a percentage point more members than
  outsiders. A generator that copies 1% of its rows flags about 1% more and fails; one that
  copies none stays within about 0.002 on tables of 10,000 training rows (Carlini et al. 2022
  argue for judging membership attacks at low false-positive rates).

Attack-advantage risks (membership advantage, anonymeter's excess risks) keep 0.09 in both
profiles: they are not re-identification probabilities, and holding them to 0.04% could only be
certified on tables of tens of millions of rows. ``privgate plan`` says, per check, how large a
table each profile needs. Distinguishability (a real-vs-synthetic classifier) is reported by
every audit but gated by neither profile: it measures fidelity, not harm to a person, and a
classifier score of a real table against any generator's output never certifies 0.04%.
"""

from __future__ import annotations

from privgate import hookimpl
from privgate.policy import Policy

#: Risks that 0.09 applies to in both profiles.
ADVANTAGE_KINDS = ("singling-out", "linkability", "inference", "membership")
#: The per-record re-identification figure of Benitez & Malin (2010).
SAFE_HARBOR = 0.0004
#: The most a low-FPR attack may flag members beyond outsiders.
LOW_FPR_EXCESS = 0.005
#: The bound on the excess share of unique records copied that lets the expert profile pass.
VERBATIM_PASS = 0.002

_SOURCES_009 = (
    "European Medicines Agency, External guidance on the implementation of the European "
    "Medicines Agency policy on the publication of clinical data for medicinal products for "
    "human use (Policy 0070), EMA/90915/2016 (2018): 0.09.",
    "Health Canada, Guidance document on Public Release of Clinical Information (2019): 0.09.",
    "K. El Emam, Guide to the De-Identification of Personal Health Information, CRC Press "
    "(2013).",
    "K. El Emam, L. Mosquera and J. Bass, Evaluating identity disclosure risk in fully "
    "synthetic health data, J Med Internet Res 22(11):e23139 (2020).",
)
_SOURCES_STRICT = (
    "F. Benitez and B. Malin, Evaluating re-identification risks with respect to the HIPAA "
    "privacy rule, JAMIA 17(2) (2010): 0.04% under Safe Harbor.",
    "45 CFR 164.514(b) (HIPAA de-identification: expert determination names no number; Safe "
    "Harbor lists identifiers to remove).",
)
_SOURCES_LOW_FPR = (
    "N. Carlini et al., Membership inference attacks from first principles, IEEE S&P (2022) "
    "(true-positive rate at low false-positive rates).",
)

EXPERT_DETERMINATION = Policy(
    name="expert-determination-0.09",
    title="Expert determination (0.09)",
    description=(
        "The re-identification-type risks -- the identity-disclosure rate of El Emam et al. "
        "2020 (the figure this threshold is meant for), singling out, linkability, attribute "
        "inference and membership advantage -- must have one-sided upper confidence bounds of "
        "at most 0.09, the threshold of the EMA's Policy 0070 guidance and Health Canada's "
        "guidance on releasing clinical information, which follow El Emam's work. (HIPAA's "
        "expert determination names no number.) A copy of a unique training record is a "
        "certain disclosure: any demonstrated excess of such copies over chance fails, and a "
        "pass needs their share bounded below 0.2%. At a 0.1% false-positive rate a "
        "membership attack may flag at most 0.5 percentage points more members than "
        "outsiders."),
    thresholds={**{kind: 0.09 for kind in ADVANTAGE_KINDS}, "identity-disclosure": 0.09,
                "verbatim-copy": VERBATIM_PASS, "membership-low-fpr": LOW_FPR_EXCESS},
    fail_thresholds={"verbatim-copy": 0.0},
    references=_SOURCES_009 + _SOURCES_STRICT[:1] + _SOURCES_LOW_FPR,
)

STRICT = Policy(
    name="strict-0.04pct",
    title="Strict (0.04%)",
    description=(
        "The per-record re-identification probabilities -- the identity-disclosure rate of El "
        "Emam et al. 2020 and the share of unique training records copied verbatim (any "
        "demonstrated excess of which fails) -- must have one-sided upper confidence bounds of "
        "at most 0.0004 (0.04%), the share of people "
        "Benitez & Malin (2010) found re-identifiable in data released under HIPAA's Safe "
        "Harbor method. The attack-advantage risks (singling out, linkability, inference, "
        "membership) keep the expert profile's 0.09 and low-FPR membership its 0.005: 0.04% is "
        "not a figure on their scale. Certifying 0.0004 takes at least about 9,200 unique "
        "training records, and more where chance matches on the quasi-identifiers are common; "
        "privgate plan says how many a table needs."),
    thresholds={**{kind: 0.09 for kind in ADVANTAGE_KINDS}, "identity-disclosure": SAFE_HARBOR,
                "verbatim-copy": SAFE_HARBOR, "membership-low-fpr": LOW_FPR_EXCESS},
    fail_thresholds={"verbatim-copy": 0.0},
    references=_SOURCES_STRICT + _SOURCES_009[2:] + _SOURCES_LOW_FPR,
)


@hookimpl
def privgate_policies() -> list[Policy]:
    """privgate's built-in policies."""
    return [EXPERT_DETERMINATION, STRICT]
