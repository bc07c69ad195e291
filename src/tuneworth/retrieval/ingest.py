"""Read a documents directory into plain-text ``Document``s: .txt, .md, .html, .pdf and .jsonl records.

One bad file never aborts an index: unreadable, binary, encrypted, empty or unsupported files (and
malformed .jsonl lines) are skipped and listed with the reason. HTML headings become Markdown
headings so the chunker can respect them; PDF text comes from ``pypdf`` (a maintained, pure-Python
library), page by page, with the page offsets kept so a chunk can name its page.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from tuneworth.errors import MissingDependencyError

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".jsonl"}
JSONL_TEXT_KEYS = ("text", "content", "body", "passage", "answer")
JSONL_ID_KEYS = ("id", "_id", "doc_id", "source")
MAX_FILE_BYTES = 50_000_000


@dataclass(frozen=True)
class Document:
    source: str  # id: path relative to the docs directory, ``file.jsonl#id`` for records
    text: str
    pages: tuple[int, ...] = ()  # PDF: character offset where each page starts


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class Corpus:
    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256 of its bytes


def file_digests(root: Path) -> dict[str, str]:
    """Relative path -> content hash of every candidate file: what decides whether to rebuild."""
    out = {}
    for path in _walk(root):
        try:
            out[_rel(path, root)] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            out[_rel(path, root)] = "unreadable"
    return out


def _walk(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if any(p.startswith(".") for p in rel) or not path.is_file():
            continue  # hidden files and folders (.git, .DS_Store) are not documents
        files.append(path)
    return files


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def read_corpus(root: Path) -> Corpus:
    """Every readable document under ``root`` (recursively), and the files skipped with reasons."""
    corpus = Corpus()
    for path in _walk(root):
        rel = _rel(path, root)
        try:
            data = path.read_bytes()
        except OSError as e:
            corpus.files[rel] = "unreadable"
            corpus.skipped.append(Skipped(rel, f"unreadable ({e.strerror or e})"))
            continue
        corpus.files[rel] = hashlib.sha256(data).hexdigest()
        suffix = path.suffix.lower()
        if suffix not in SUPPORTED:
            corpus.skipped.append(
                Skipped(rel, f"unsupported file type {suffix or '(none)'}; use {', '.join(sorted(SUPPORTED))}")
            )
            continue
        if len(data) > MAX_FILE_BYTES:
            corpus.skipped.append(Skipped(rel, f"larger than {MAX_FILE_BYTES // 1_000_000} MB"))
            continue
        try:
            if suffix == ".pdf":
                docs = [_read_pdf(data, rel)]
            elif suffix == ".jsonl":
                docs = _read_jsonl(_decode(data), rel, corpus.skipped)
            elif suffix in HTML_SUFFIXES:
                docs = [Document(rel, html_to_text(_decode(data)))]
            else:
                docs = [Document(rel, _decode(data))]
        except _Skip as e:
            corpus.skipped.append(Skipped(rel, str(e)))
            continue
        kept = [d for d in docs if d.text.strip()]
        if not kept and suffix != ".jsonl":
            corpus.skipped.append(Skipped(rel, "no text in it"))
        corpus.documents.extend(kept)
    return corpus


class _Skip(Exception):
    """A file that cannot be used, with the reason."""


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise _Skip("binary file (NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _Skip(f"not UTF-8 text (byte {e.start}); re-save it as UTF-8") from None


def _read_pdf(data: bytes, rel: str) -> Document:
    try:
        import pypdf
    except ImportError:
        raise MissingDependencyError("pypdf", "local") from None
    import io
    import logging

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = bool(reader.decrypt(""))  # an empty user password still opens some files
            except Exception:
                ok = False
            if not ok:
                raise _Skip("encrypted PDF (needs a password); save an unencrypted copy")
        parts: list[str] = []
        pages: list[int] = []
        offset = 0
        for page in reader.pages:
            text = (page.extract_text() or "").strip()
            pages.append(offset)
            parts.append(text)
            offset += len(text) + 2
    except _Skip:
        raise
    except Exception as e:  # pypdf raises many types on damaged files
        raise _Skip(f"unreadable PDF ({type(e).__name__}: {e})") from None
    text = "\n\n".join(parts)
    if not text.strip():
        raise _Skip("PDF has no extractable text (scanned images?); run OCR first")
    return Document(rel, text, tuple(pages))


def _read_jsonl(text: str, rel: str, skipped: list[Skipped]) -> list[Document]:
    docs = []
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            skipped.append(Skipped(f"{rel}:{lineno}", f"not valid JSON ({e.msg})"))
            continue
        if not isinstance(obj, dict):
            skipped.append(Skipped(f"{rel}:{lineno}", "not a JSON object"))
            continue
        body = next((obj[k] for k in JSONL_TEXT_KEYS if isinstance(obj.get(k), str)), None)
        if body is None or not body.strip():
            skipped.append(
                Skipped(f"{rel}:{lineno}", f"no text; put it under one of {', '.join(JSONL_TEXT_KEYS)}")
            )
            continue
        rid = next((str(obj[k]) for k in JSONL_ID_KEYS if obj.get(k) not in (None, "")), str(lineno))
        if rid in seen:
            skipped.append(Skipped(f"{rel}:{lineno}", f"duplicate id {rid!r}"))
            continue
        seen.add(rid)
        title = obj.get("title")
        if isinstance(title, str) and title.strip():
            body = f"# {title.strip()}\n\n{body}"
        docs.append(Document(f"{rel}#{rid}", body))
    return docs


class _TextExtractor(HTMLParser):
    """HTML to text: drops script/style, keeps block structure, turns h1-h6 into Markdown headings."""

    BLOCKS = frozenset(["p", "div", "section", "article", "header", "ul", "ol", "table", "blockquote", "pre", "dl", "main", "aside", "form"])
    LINES = frozenset({"li", "br", "tr", "dt", "dd"})
    # Not content: code, metadata, and the navigation and footer boilerplate repeated on every page.
    SKIP = frozenset({"script", "style", "noscript", "template", "head", "nav", "footer"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in self.LINES:
            self.parts.append("\n")
        elif tag in self.BLOCKS:
            self.pre += tag == "pre"
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif (len(tag) == 2 and tag[0] == "h" and tag[1] in "123456") or tag in self.BLOCKS:
            self.pre = max(0, self.pre - (tag == "pre"))
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            # Outside <pre>, HTML whitespace (newlines included) is one space.
            self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()
