"""Reads a rendered report with the standard library's HTML parser, element by element."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = frozenset({"meta", "link", "br", "img", "input", "hr", "source", "wbr", "area", "base"})
URL_ATTRIBUTES = frozenset(
    {"src", "href", "xlink:href", "action", "formaction", "srcset", "poster", "data",
     "background", "manifest", "ping", "codebase", "cite", "longdesc", "usemap"}
)  # fmt: skip


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    position: int = 0
    end: int = 0
    """Elements `position + 1` to `end` (exclusive) of the page are inside this one."""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


@dataclass
class Page:
    elements: list[Element] = field(default_factory=list)
    text: str = ""
    errors: list[str] = field(default_factory=list)

    def find(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        return [
            e
            for e in self.elements
            if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
        ]

    def by_key(self, key: str) -> Element:
        (found,) = [e for e in self.elements if e.attrs.get("data-key") == key]
        return found

    def by_id(self, ident: str) -> Element:
        (found,) = [e for e in self.elements if e.attrs.get("id") == ident]
        return found

    def inside(self, element: Element, tag: str | None = None) -> list[Element]:
        nested = self.elements[element.position + 1 : element.end]
        return [e for e in nested if tag is None or e.tag == tag]


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.open: list[Element] = []
        self.texts: list[str] = []

    def _add(self, tag: str, attrs: list[tuple[str, str | None]]) -> Element:
        position = len(self.page.elements)
        element = Element(tag, {k: v or "" for k, v in attrs}, position=position, end=position + 1)
        self.page.elements.append(element)
        return element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = self._add(tag, attrs)
        if tag not in VOID:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1].tag != tag:
            self.page.errors.append(f"unexpected </{tag}>")
            return
        self.open.pop().end = len(self.page.elements)

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        for element in self.open:
            element.text += data


def parse(document: str) -> Page:
    """Every element with its attributes and text; `errors` lists mismatched end tags."""
    parser = _Parser()
    parser.feed(document)
    parser.close()
    parser.page.text = "".join(parser.texts)
    parser.page.errors += [f"unclosed <{e.tag}>" for e in parser.open]
    return parser.page
