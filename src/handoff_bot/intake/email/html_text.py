"""HTML mail bodies to the plain text a reader would see."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_HIDDEN = frozenset({"head", "script", "style", "title", "template"})
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "fieldset",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
        "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
    }
)  # fmt: skip
_PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote"})
# The parser costs about a second per megabyte of tags; HTML this long is generated, not written, and
# what a person reads of it comes first. (Inline data: images cost nothing: they are one tag.)
HTML_LIMIT = 2_000_000
_MAX_QUOTE_MARKS = 10  # nested <blockquote>s would otherwise prefix every line with megabytes
_SPACES = re.compile(r"[ \t\r\n\f\v\xa0]+")
_MARKED_SECTION = re.compile(r"<!\[[^>]*(?:>|$)")
_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.M)


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0
        self._pre = 0
        self._quote = 0
        self._want = 0  # line breaks owed before the next text
        self._newlines = 1  # line breaks at the end of the output; 1 = at the start of a line
        self._started = False
        self._levels: dict[str, int] = {}  # the break an open block asked for, repeated at its end

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._hidden = 0  # a <head> that was never closed
        elif tag in _HIDDEN:
            self._hidden += 1
        elif tag == "br":
            self._break()
        elif tag in {"td", "th"}:
            self._space()
        elif tag in _BLOCKS:
            self._block(tag, attrs)
            self._pre += tag == "pre"
            self._quote += tag == "blockquote"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._break()
        elif tag in _BLOCKS:
            self._block(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(self._hidden - 1, 0)
        elif tag in _BLOCKS:
            self._want = max(self._want, self._levels.get(tag, 1))
            if tag == "pre":
                self._pre = max(self._pre - 1, 0)
            elif tag == "blockquote":
                self._quote = max(self._quote - 1, 0)

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._pre:
            for index, line in enumerate(data.replace("\r\n", "\n").split("\n")):
                if index:
                    self._break()
                self._emit(line.replace("\t", "    "))
            return
        # A run with &nbsp; stays one &nbsp; so that Outlook's `<p>&nbsp;</p>` still makes an empty line.
        text = _SPACES.sub(lambda run: "\xa0" if "\xa0" in run.group() else " ", data)
        if self._newlines or self._want or self._ends_with_space():
            text = text.lstrip(" ")
        self._emit(text)

    def _block(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # Outlook writes each line as <p class=MsoNormal>, an empty one as &nbsp;: a line, not a paragraph.
        outlook = any(name == "class" and (value or "").startswith("Mso") for name, value in attrs)
        level = 2 if tag in _PARAGRAPHS and not outlook else 1
        self._levels[tag] = level
        self._want = max(self._want, level)

    def _space(self) -> None:
        if not (self._hidden or self._newlines or self._want or self._ends_with_space()):
            self.parts.append(" ")

    def _break(self) -> None:
        if self._hidden:
            return
        self._flush_breaks()
        self.parts.append("\n")
        self._newlines += 1

    def _flush_breaks(self) -> None:
        if self._started and self._want > self._newlines:
            self.parts.append("\n" * (self._want - self._newlines))
            self._newlines = self._want
        self._want = 0

    def _emit(self, text: str) -> None:
        if not text:
            return
        self._flush_breaks()
        if self._newlines and self._quote:
            self.parts.append("> " * min(self._quote, _MAX_QUOTE_MARKS))
        self.parts.append(text)
        self._newlines = 0
        self._started = True

    def _ends_with_space(self) -> bool:
        return bool(self.parts) and self.parts[-1].endswith((" ", "\xa0"))


def html_to_text(html: str) -> str:
    """Visible text of the first HTML_LIMIT characters: breaks kept, entities decoded, spaces collapsed."""
    html = html[:HTML_LIMIT]
    collector = _TextCollector()
    try:
        collector.feed(html)
        collector.close()
    except AssertionError:
        # The parser asserts on marked sections it does not know (`<![foo]>`); Outlook's
        # `<![if !supportLists]>` are known. Drop them all and read the rest again.
        collector = _TextCollector()
        collector.feed(_MARKED_SECTION.sub("", html))
        collector.close()
    text = "".join(collector.parts).replace("\xa0", " ")
    text = _TRAILING_SPACE.sub("", text)
    return _BLANK_LINES.sub("\n\n", text).strip("\n")
