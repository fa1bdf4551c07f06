"""The studio's entity tags: HTTP's own concurrency control for projects and segments.

Each project and segment has a version counter in the store; its ``ETag`` is a strong
tag naming the resource and the version (``"p5.3"``, ``"s22.7"``), so a tag of one
resource never matches another. A write may send ``If-Match``: ``*`` or no header
writes whatever the version; otherwise the write happens only when one of the listed
tags is the resource's current one, compared strongly (RFC 9110, 13.1.1): a weak tag
(``W/"..."``) never matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from storyreel.service.errors import Invalid

__all__ = ["IfMatch", "etag", "parse_if_match"]

Kind = Literal["p", "s"]

# entity-tag = [ weak ] opaque-tag; opaque-tag = DQUOTE *etagc DQUOTE (RFC 9110, 8.8.3)
_ENTITY_TAG = re.compile(r'[ \t]*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*')
_OURS = re.compile(r"([ps])\.([1-9][0-9]{0,18})\.([1-9][0-9]{0,18})")


def etag(kind: Kind, resource_id: int, version: int) -> str:
    """The strong entity tag of a project (``"p"``) or segment (``"s"``) at a version."""
    return f'"{kind}.{resource_id}.{version}"'


@dataclass(frozen=True)
class IfMatch:
    """A parsed ``If-Match`` header: ``tags`` holds its strong tags (``None``: any)."""

    tags: frozenset[str] | None = None

    def versions(self, kind: Kind, resource_id: int) -> frozenset[int] | None:
        """The versions of one resource the header accepts (``None``: any version).

        Tags of other resources, weak tags and tags the studio never made accept none.
        """
        if self.tags is None:
            return None
        found = set()
        for tag in self.tags:
            match = _OURS.fullmatch(tag)
            if match and match[1] == kind and int(match[2]) == resource_id:
                found.add(int(match[3]))
        return frozenset(found)


def parse_if_match(value: str | None) -> IfMatch:
    """Read an ``If-Match`` header (missing or ``*``: any version).

    Raises:
        Invalid: The header is neither ``*`` nor a comma-separated list of entity tags.
    """
    if value is None or value.strip() == "*":
        return IfMatch()
    strong: set[str] = set()
    position, items = 0, 0
    while position < len(value):
        match = _ENTITY_TAG.match(value, position)
        if match is None:
            if value[position] in ", \t":  # empty list elements are allowed
                position += 1
                continue
            raise _malformed()
        items += 1
        if match[1] is None:
            strong.add(match[2])
        position = match.end()
        if position < len(value) and value[position] != ",":
            raise _malformed()
    if items == 0:
        raise _malformed()
    return IfMatch(frozenset(strong))


def _malformed() -> Invalid:
    return Invalid('The If-Match header must be "*" or the ETag of the project or segment '
                   "(a quoted tag, as the studio sent it).")
