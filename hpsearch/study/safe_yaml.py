"""YAML for study files: safe tags only, bounded nesting and alias expansion, no duplicate keys.

PyYAML's SafeLoader runs no code, but it composes nested nodes recursively (a file nested a
thousand deep overflows the stack), expands nothing yet shares aliased nodes (a 2 KB
"billion laughs" file becomes 10**9 values as soon as anything walks it), and lets a repeated key
silently replace the first one. This loader refuses all three, naming the line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from hpsearch.errors import shown
from hpsearch.limits import MAX_YAML_DEPTH, MAX_YAML_NODES


class YamlRefused(ValueError):
    """Valid or not, YAML this loader refuses to build; the message says why and where."""


def _where(node: Node) -> str:
    return f"line {node.start_mark.line + 1}"


class _StudyLoader(yaml.SafeLoader):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise YamlRefused(f"nested deeper than {MAX_YAML_DEPTH} levels (line {line})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: SafeLoader refuses it itself just below
                continue
            if duplicate:
                raise YamlRefused(f"duplicate key {shown(key)} ({_where(key_node)})")
        return super().construct_mapping(node, deep=deep)


_MAX_INT_DIGITS = 40  # far beyond any seed or count; Python refuses 4300 digits with a traceback


def _construct_int(loader: _StudyLoader, node: Node) -> int:
    digits = str(node.value).lstrip("+-").replace("_", "")
    if len(digits) > _MAX_INT_DIGITS:
        raise YamlRefused(f"an integer of {len(digits)} digits ({_where(node)})")
    return int(yaml.SafeLoader.construct_yaml_int(loader, node))  # type: ignore[arg-type]


_StudyLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _expanded_size(node: Node, sizes: dict[int, int]) -> int:
    """How many values `node` stands for once every alias is expanded (shared nodes counted
    each time they are used), computed once per distinct node: linear in the file, not in the
    expansion. Nesting is already bounded, so the recursion is too."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, SequenceNode):
        size += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, MappingNode):
        size += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = size
    if size > MAX_YAML_NODES:
        raise YamlRefused(
            f"expands to more than {MAX_YAML_NODES} values (aliases of aliases?) ({_where(node)})"
        )
    return size


def load_yaml(text: str) -> Any:
    """The document in `text`. Raises yaml.YAMLError for bad syntax, YamlRefused for the rest."""
    loader = _StudyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {})
        return loader.construct_document(node)
    finally:
        loader.dispose()
