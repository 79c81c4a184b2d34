"""Word error rate for the engine tests: lowercased words, punctuation stripped, word-level Levenshtein."""

from __future__ import annotations

import re

NUMBER_WORDS = {"ten": "10", "fourteen": "14"}


def words(text: str) -> list[str]:
    return [NUMBER_WORDS.get(word, word) for word in re.sub(r"[^\w\s']", " ", text.lower()).split()]


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    row = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, 1):
        diagonal, row[0] = row[0], i
        for j, hyp_word in enumerate(hypothesis, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ref_word != hyp_word))
    return row[-1]
