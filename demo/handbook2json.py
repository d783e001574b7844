#!/usr/bin/python3
"""Convert the Debian Administrator's Handbook to textbook import JSON.

Reads one language of the HTML handbook shipped by the Debian package
``debian-handbook`` (/usr/share/doc/debian-handbook/html/<lang>/) and writes
the JSON array that ``textbook.import_documents(p_json text)`` takes: one
document per HTML page, in reading order, as

    {"chapter_id": "apt",
     "title": "6.2. aptitude, apt-get, and apt Commands",
     "content": "plain text, paragraphs separated by blank lines",
     "metadata": {"page": "sect.apt-get.html", "language": "en-US",
                  "chapter_title": "Chapter 6. ...", "source": "debian-handbook",
                  "position": 1}}

A page's chapter is found by following its <link rel="up"> links until a page
whose "up" is index.html (or that has no "up", like index.html itself); front
matter (preface, foreword) and appendices are therefore chapters of their own.

Usage:
    python3 demo/handbook2json.py [--lang en-US] [--dir DIR] [--pages N] [-o out.json]
    python3 demo/handbook2json.py --list-languages

Standard library only.
"""

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser

DEFAULT_DIR = "/usr/share/doc/debian-handbook/html"
DEFAULT_LANG = "en-US"
SOURCE = "debian-handbook"
INDEX_PAGE = "index.html"
# Directories next to the language directories that hold no pages.
NON_CONTENT_DIRS = {"Common_Content", "images"}
MAX_ID_LENGTH = 200

# Tags that start a new paragraph.  Everything else is treated as inline.
BLOCK_TAGS = {
    "address", "blockquote", "caption", "dd", "div", "dl", "dt", "figcaption",
    "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "ol", "p",
    "section", "ul",
}
# Void elements never get an end tag in HTML, so they must not be counted
# when tracking nesting.
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input",
             "link", "meta", "param", "source", "track", "wbr"}

# C0/C1 control characters except tab and newline.  PostgreSQL text cannot
# hold NUL at all, and the others are never meaningful in the handbook.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# \s in a str pattern also matches no-break spaces and other Unicode spaces.
_SPACE_RE = re.compile(r"\s+")


def _clean(text):
    """Drop control characters; keep newlines and tabs."""
    return _CONTROL_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _one_line(text):
    """Collapse all whitespace (including newlines) to single spaces."""
    return _SPACE_RE.sub(" ", _clean(text)).strip()


@dataclass
class ParsedPage:
    """What one HTML file yields: head information and the body text."""
    title: str = ""
    links: dict = field(default_factory=dict)   # rel -> page name
    text: str = ""


class PageParser(HTMLParser):
    """Extracts title, navigation links and readable text from one page.

    Text is built as a list of blocks (paragraphs, preformatted blocks,
    tables); the blocks are joined with blank lines at the end.
    """

    def __init__(self):
        super().__init__(convert_charrefs=True)   # decodes &amp; &#8212; ...
        self.title = ""
        self.links = {}
        self.blocks = []
        self._in_head = False
        self._in_title = False
        self._title_parts = []
        self._inline = []            # text of the paragraph being built
        self._prefix = ""            # list marker for the next paragraph
        self._lists = []             # stack of [kind, counter] for ul/ol
        self._skip_tag = None        # tag name of the subtree being skipped
        self._skip_depth = 0
        self._pre_depth = 0
        self._pre = []
        self._tables = []            # stack of row lists (nested tables)
        self._row = None             # cells of the current table row
        self._cell = None            # text of the current table cell

    # -- classification -------------------------------------------------

    @staticmethod
    def _is_noise(tag, attrs):
        """True for navigation and other elements whose text is not content."""
        classes = (attrs.get("class") or "").split()
        if tag in ("script", "style", "noscript"):
            return True
        if attrs.get("id") in ("banner", "title"):      # site banner, logos
            return True
        if tag == "ul" and "docnav" in classes:          # Prev/Up/Home/Next
            return True
        if tag == "a" and "indexterm" in classes:       # back-of-book index anchors
            return True
        # Tables of contents only repeat titles of other pages.
        return tag == "div" and "toc" in classes

    # -- text accumulation ----------------------------------------------

    def _flush(self):
        """Finish the current paragraph, if it has any text."""
        text = _one_line("".join(self._inline))
        self._inline = []
        if text:
            self.blocks.append(self._prefix + text)
            self._prefix = ""

    def _add_text(self, data):
        if self._pre_depth:
            self._pre.append(data)
        elif self._cell is not None:
            self._cell.append(data)
        elif self._tables and not data.strip():
            pass                     # whitespace between <tr>/<td> tags
        else:
            self._inline.append(data)

    # -- HTMLParser callbacks -------------------------------------------

    def handle_starttag(self, tag, attrs_list):
        attrs = dict(attrs_list)
        if self._skip_tag is not None:
            if tag == self._skip_tag and tag not in VOID_TAGS:
                self._skip_depth += 1
            return
        if tag == "head":
            self._in_head = True
        elif tag == "title" and self._in_head:
            self._in_title = True
        elif tag == "link":
            rel, href = attrs.get("rel"), attrs.get("href")
            if rel and href:
                # Keep only the page name: drop fragments and directories.
                self.links[rel.lower()] = href.split("#")[0].rsplit("/", 1)[-1]
        if self._in_head:
            return
        if self._is_noise(tag, attrs):
            if tag not in VOID_TAGS:
                self._skip_tag, self._skip_depth = tag, 1
            return

        if tag == "img":
            # Callout markers ("1", "2", ...) tie listings to their
            # explanations; other images only have decorative alt texts
            # (figures have a caption of their own).
            if "callout" in (attrs.get("class") or "").split():
                self._add_text("(%s)" % (attrs.get("alt") or "*"))
        elif tag == "pre":
            if not self._pre_depth and self._cell is None:
                self._flush()
            self._pre_depth += 1
        elif self._pre_depth:
            pass                     # inline markup inside <pre>: keep text only
        elif tag == "br":
            if self._cell is not None:
                self._cell.append(" ")
            else:
                self._flush()
        elif tag == "table":
            self._flush()
            self._tables.append([])
        elif tag == "tr" and self._tables:
            self._row = []
        elif tag in ("td", "th") and self._tables:
            self._cell = []
        elif self._cell is not None:
            if tag in BLOCK_TAGS:
                self._cell.append(" ")   # a table row stays on one line
        elif tag in BLOCK_TAGS:
            self._flush()
            if tag in ("ul", "ol"):
                self._lists.append([tag, 0])
            elif tag == "li":
                if self._lists and self._lists[-1][0] == "ol":
                    self._lists[-1][1] += 1
                    self._prefix = "%d. " % self._lists[-1][1]
                else:
                    self._prefix = "- "

    def handle_endtag(self, tag):
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skip_tag = None
            return
        if tag == "head":
            self._in_head = False
        elif tag == "title" and self._in_title:
            self._in_title = False
            self.title = _one_line("".join(self._title_parts))
        if self._in_head or tag in VOID_TAGS:
            return

        if tag == "pre" and self._pre_depth:
            self._pre_depth -= 1
            if not self._pre_depth:
                self._end_pre()
        elif self._pre_depth:
            pass
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(_one_line("".join(self._cell)))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            line = " | ".join(c for c in self._row if c)
            if line:
                self._tables[-1].append(line)
            self._row = None
        elif tag == "table" and self._tables:
            rows = self._tables.pop()
            if rows:
                self.blocks.append("\n".join(rows))
        elif self._cell is not None:
            pass
        elif tag in BLOCK_TAGS:
            self._flush()
            if tag in ("ul", "ol") and self._lists:
                self._lists.pop()
            if tag == "li":
                self._prefix = ""     # an empty item must not mark the next block

    def handle_data(self, data):
        if self._skip_tag is not None:
            return
        if self._in_title:
            self._title_parts.append(data)
        elif not self._in_head:
            self._add_text(data)

    def _end_pre(self):
        """Emit a preformatted block line by line, trimming only its edges."""
        lines = [line.rstrip() for line in _clean("".join(self._pre)).split("\n")]
        self._pre = []
        while lines and not lines[0]:
            lines.pop(0)
        while lines and not lines[-1]:
            lines.pop()
        if not lines:
            return
        if self._cell is not None:   # rare: keep the row on one line
            self._cell.append(" " + " ".join(lines) + " ")
        else:
            self.blocks.append("\n".join(lines))

    def close(self):
        super().close()
        self._flush()
        if self._pre:
            self._end_pre()


def parse_page(path, head_only=False):
    """Parse one HTML file.  head_only skips the body (for link walking)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        html = f.read()
    if head_only:
        end = html.lower().find("</head>")
        if end >= 0:
            html = html[:end + len("</head>")]
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return ParsedPage(title=parser.title, links=parser.links,
                      text="\n\n".join(parser.blocks))


def _valid_id(name):
    """chapter_id must be 1-200 characters without control characters."""
    cleaned = _CONTROL_RE.sub("", name).replace("\n", "").replace("\t", "")
    return (cleaned or "chapter")[:MAX_ID_LENGTH]


class _Book:
    """One language directory; caches page heads for link walking."""

    def __init__(self, lang_dir):
        self.lang_dir = lang_dir
        self.pages = sorted(n for n in os.listdir(lang_dir)
                            if n.endswith(".html")
                            and os.path.isfile(os.path.join(lang_dir, n)))
        self._names = set(self.pages)
        self._heads = {}

    def head(self, name):
        if name not in self._heads:
            self._heads[name] = parse_page(os.path.join(self.lang_dir, name),
                                           head_only=True)
        return self._heads[name]

    def link(self, name, rel):
        """Target of a <link rel=...> if it is a page of this book."""
        target = self.head(name).links.get(rel)
        return target if target in self._names else None

    def chapter_of(self, name):
        """Follow "up" links to the page directly below index.html."""
        seen = {name}
        while True:
            up = self.link(name, "up")
            # A page whose up is the index, or that has no (valid) up, is a
            # chapter; the visited set guards against broken "up" cycles.
            if up is None or up == INDEX_PAGE or up in seen:
                return name
            seen.add(up)
            name = up

    def reading_order(self):
        """Pages along the rel="next" chain, then any unreached ones by name."""
        order, seen = [], set()
        name = INDEX_PAGE if INDEX_PAGE in self._names else None
        while name is not None and name not in seen:
            order.append(name)
            seen.add(name)
            name = self.link(name, "next")
        order.extend(n for n in self.pages if n not in seen)
        return order

    def position_of(self, name):
        """Index within the chapter, counted along the "prev" chain."""
        chapter, position, seen = self.chapter_of(name), 0, {name}
        prev = self.link(name, "prev")
        while prev is not None and prev not in seen \
                and self.chapter_of(prev) == chapter:
            position += 1
            seen.add(prev)
            prev = self.link(prev, "prev")
        return position

    def document(self, name, lang, position):
        page = parse_page(os.path.join(self.lang_dir, name))
        chapter = self.chapter_of(name)
        stem = os.path.splitext(name)[0]
        return {
            "chapter_id": _valid_id(os.path.splitext(chapter)[0]),
            "title": page.title or stem,
            "content": page.text,
            "metadata": {
                "page": name,
                "language": lang,
                "chapter_title": self.head(chapter).title
                                 or os.path.splitext(chapter)[0],
                "source": SOURCE,
                "position": position,
            },
        }


def convert_page(path, lang):
    """Convert a single page; its chapter and position come from its links."""
    book = _Book(os.path.dirname(os.path.abspath(path)))
    name = os.path.basename(path)
    return book.document(name, lang, book.position_of(name))


def convert(lang_dir, lang, max_pages=None):
    """Convert every page of lang_dir (or the first max_pages) in reading order."""
    book = _Book(lang_dir)
    order = book.reading_order()
    if max_pages is not None:
        order = order[:max_pages]
    documents, counts = [], {}
    for name in order:
        chapter = book.chapter_of(name)
        documents.append(book.document(name, lang, counts.get(chapter, 0)))
        counts[chapter] = counts.get(chapter, 0) + 1
    return documents


def list_languages(base_dir):
    """Language directories (those holding an index.html), sorted."""
    return sorted(
        d for d in os.listdir(base_dir)
        if d not in NON_CONTENT_DIRS
        and os.path.isfile(os.path.join(base_dir, d, INDEX_PAGE)))


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Convert the Debian Administrator's Handbook (HTML) to "
                    "JSON for textbook.import_documents().")
    ap.add_argument("--lang", default=DEFAULT_LANG,
                    help="language directory, e.g. en-US, fr-FR (default %(default)s)")
    ap.add_argument("--dir", default=DEFAULT_DIR,
                    help="directory holding the language directories "
                         "(default %(default)s)")
    ap.add_argument("--pages", type=int, metavar="N",
                    help="only convert the first N pages in reading order")
    ap.add_argument("-o", "--output", metavar="FILE",
                    help="write JSON here instead of standard output")
    ap.add_argument("--list-languages", action="store_true",
                    help="print the available languages and exit")
    args = ap.parse_args(argv)

    if not os.path.isdir(args.dir):
        print("error: %s does not exist; install the handbook with "
              "'apt-get install debian-handbook' or pass --dir" % args.dir,
              file=sys.stderr)
        return 2
    if args.list_languages:
        print("\n".join(list_languages(args.dir)))
        return 0
    lang_dir = os.path.join(args.dir, args.lang)
    if args.lang in NON_CONTENT_DIRS or not os.path.isdir(lang_dir):
        print("error: no language %r in %s (try --list-languages; the "
              "handbook comes from 'apt-get install debian-handbook')"
              % (args.lang, args.dir), file=sys.stderr)
        return 2
    if args.pages is not None and args.pages < 0:
        ap.error("--pages must be >= 0")

    documents = convert(lang_dir, args.lang, args.pages)
    data = json.dumps(documents, ensure_ascii=False, indent=1) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(data)
    else:
        # Write bytes so the output is UTF-8 whatever the locale says.
        sys.stdout.buffer.write(data.encode("utf-8"))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
