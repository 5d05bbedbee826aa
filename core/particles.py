"""Korean particles chosen by the final syllable of the word before them.

A Korean particle has two forms, one after a closed syllable (with a final consonant, 받침)
and one after an open syllable: 이/가, 은/는, 을/를, 과/와, 아/야, 이에요/예요 and 으로/로
(로 also after a final ㄹ). Translators write the combined fallback form after a placeholder,
``%(value)s이(가)``; :func:`resolve_particles` replaces each fallback with the right form for
the word actually printed before it, whatever it is:

* a Hangul syllable: its final consonant (Unicode: ``(code - 0xAC00) % 28``, 0 = none, 8 = ㄹ);
* a digit, read as Korean reads numbers: 0 영, 1 일, 2 이, 3 삼, 4 사, 5 오, 6 육, 7 칠, 8 팔,
  9 구 (a number ending in 0 always ends closed: 영, 십, 백, 천, 만);
* a Latin word: an acronym or a run without vowels by its English letter names (``gmm``
  지엠엠, ``AUROC`` ends in 씨: l and r end in ㄹ, m and n in ㅁ and ㄴ, every other letter
  name is open); an English word as a Korean loanword reads (``training`` 트레이닝 closed,
  ``membership`` 멤버십 closed, ``result`` 리절트 open, ``hellinger`` 헬링거 open: see
  :func:`_latin_final`);
* anything else (a symbol, a closing bracket or quote, a percent sign read 퍼센트): the
  character before it decides, skipping brackets and quotes; ``%`` is open.

With nothing to read (the fallback at the start of the text), the fallback stays as written.
"""

from __future__ import annotations

import re

#: fallback -> (after a closed syllable, after an open syllable, after a final ㄹ).
PARTICLES = {
    "이(가)": ("이", "가", "이"), "은(는)": ("은", "는", "은"), "을(를)": ("을", "를", "을"),
    "과(와)": ("과", "와", "과"), "아(야)": ("아", "야", "아"),
    "이에요(예요)": ("이에요", "예요", "이에요"), "(으)로": ("으로", "로", "로"),
}
_FALLBACK = re.compile("|".join(re.escape(p) for p in sorted(PARTICLES, key=len, reverse=True)))

#: Final consonant of each digit's Korean reading: None = open, "l" = ㄹ, "c" = other closed.
_DIGITS = {"0": "c", "1": "l", "2": None, "3": "c", "4": None, "5": None, "6": "c", "7": "l",
           "8": "l", "9": None}
#: Latin letter names that end in a consonant (엘, 알: ㄹ; 엠, 엔: closed).
_LETTERS = {"l": "l", "r": "l", "m": "c", "n": "c"}
#: Characters skipped when looking for the word before a particle.
_SKIP = set(")]}>\"'’”」』》 \u00a0*`")
_OPEN_SYMBOLS = set("%")


def final_sound(text: str) -> str | None:
    """``None`` (open), ``"l"`` (final ㄹ) or ``"c"`` (another final consonant) for the last
    readable character of ``text``; ``"?"`` when there is none."""
    end = len(text)
    while end and text[end - 1] in _SKIP:
        end -= 1
    if not end:
        return "?"
    head, ch = text[:end], text[end - 1]
    if "\uac00" <= ch <= "\ud7a3":
        jong = (ord(ch) - 0xAC00) % 28
        return None if jong == 0 else ("l" if jong == 8 else "c")
    if ch.isdigit() and ch.isascii():
        return _DIGITS[ch]
    if ch.isascii() and ch.isalpha():
        word = re.search(r"[A-Za-z]+$", head)
        return _latin_final(word.group() if word else ch)
    if ch in _OPEN_SYMBOLS:
        return None
    return "?"


def _latin_final(word: str) -> str | None:
    """The final sound of a Latin word: an acronym or a run without vowels (``gmm``, ``AUROC``,
    ``tstr``) by its letter names; an English word (``membership`` 멤버십, ``audit`` 오딧,
    ``result`` 리절트, ``hellinger`` 헬링거) as Korean loanwords write it: closed after a final
    ``ng``, ``m``, ``n`` or a ``p``/``t``/``k``/``ck`` right after a vowel, ㄹ after ``l``,
    open after a vowel letter, ``-er``-like endings and everything else."""
    lower = word.lower()
    if word.isupper() or len(word) < 3 or not re.search(r"[aeiou]", lower):
        if lower.endswith("ng") and len(lower) > 2:
            return "c"
        return _LETTERS.get(lower[-1])
    if lower.endswith("ng") or lower[-1] in "mn" or lower.endswith("ck") or (
            lower[-1] in "ptk" and lower[-2] in "aeiou"):
        return "c"
    if lower[-1] == "l":
        return "l"
    return None


def particle(word: str, fallback: str) -> str:
    """The form of ``fallback`` (e.g. ``"이(가)"``) that follows ``word``."""
    closed, open_, after_l = PARTICLES[fallback]
    sound = final_sound(word)
    if sound == "?":
        return fallback
    return open_ if sound is None else (after_l if sound == "l" else closed)


def resolve_particles(text: str) -> str:
    """``text`` with every fallback particle replaced by the form its preceding word takes."""
    if "(" not in text:
        return text
    out: list[str] = []
    last = 0
    for match in _FALLBACK.finditer(text):
        out.append(text[last:match.start()])
        before = "".join(out)
        out.append(particle(before, match.group()) if before else match.group())
        last = match.end()
    out.append(text[last:])
    return "".join(out)


__all__ = ["PARTICLES", "final_sound", "particle", "resolve_particles"]
