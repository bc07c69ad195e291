"""Chunker properties (hypothesis): no text lost, overlap kept, budgets and headings respected."""

from __future__ import annotations

import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tuneworth.retrieval.chunk import chunk_text, regex_tokenizer, sections

WORD = st.sampled_from(["refund", "days", "parcel", "30", "Plus", "é", "warranty", "a", "b", "x-y", "$9.99"])
PIECE = st.one_of(
    WORD,
    st.sampled_from([" ", " ", " ", ". ", "! ", "\n", "\n\n", ", ", "\t", "\n\n# Heading\n\n", "\n## Sub part\n"]),
)
DOC = st.lists(PIECE, max_size=300).map("".join)
HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+\S.*$", re.MULTILINE)


@settings(max_examples=150, deadline=None)
@given(text=DOC, max_tokens=st.integers(8, 40), data=st.data())
def test_no_text_lost_overlap_kept_and_budget_respected(text: str, max_tokens: int, data: st.DataObject) -> None:
    overlap = data.draw(st.integers(0, max_tokens // 2))
    chunks = chunk_text(text, "doc.md", max_tokens=max_tokens, overlap=overlap)
    covered = [False] * len(text)
    for c in chunks:
        assert c.text == text[c.start : c.end]  # a chunk is an exact slice: its position is real
        assert 0 < c.tokens <= max_tokens
        assert len(regex_tokenizer(c.text)) == c.tokens
        for i in range(c.start, c.end):
            covered[i] = True
    # No text lost: every non-whitespace character is inside some chunk.
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for a, b in itertools.pairwise(chunks):
        assert a.start < b.start
        if a.section == b.section and b.start < a.end:
            # Consecutive chunks of one section share exactly `overlap` tokens.
            assert len(regex_tokenizer(text[b.start : a.end])) == overlap
        elif a.section == b.section:
            assert overlap == 0 or text[a.end : b.start].strip() == ""


@settings(max_examples=100, deadline=None)
@given(text=DOC)
def test_chunks_never_cross_a_heading_with_text_before_it(text: str) -> None:
    for c in chunk_text(text, "doc.md", max_tokens=16, overlap=4):
        for m in HEADING.finditer(c.text):
            before = c.text[: m.start()]
            # Only other headings (a bare title joined to its first subsection) may precede a heading.
            assert all(HEADING.fullmatch(line) or not line.strip() for line in before.splitlines())


def test_sections_carry_the_heading_path_and_paragraph_breaks_are_preferred() -> None:
    text = (
        "# Returns\n\nIntro line.\n\n## Windows\n\n"
        + "Most items have thirty days. " * 6
        + "\n\n"
        + "Electronics have fourteen days. " * 6
    )
    assert [s[2] for s in sections(text)] == ["Returns", "Returns > Windows"]
    chunks = chunk_text(text, "refunds.md", max_tokens=60, overlap=0)
    assert chunks[0].section == "Returns" and chunks[0].text.startswith("# Returns")
    windows = [c for c in chunks if c.section == "Returns > Windows"]
    assert windows[0].text.endswith("thirty days.")  # cut at the paragraph break, not mid-paragraph
    assert windows[1].text.startswith("Electronics")
    assert chunks[1].embed_text().startswith("## Windows")
