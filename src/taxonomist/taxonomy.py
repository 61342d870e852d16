"""The class tree: parsing from YAML, paths from the root, and distances between classes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from taxonomist.errors import ConfigError


@dataclass(frozen=True)
class Taxonomy:
    """A tree of classes. Leaves are classes; each inner node gets one classifier.

    Example:
        >>> t = Taxonomy.from_tree("cars", {"vehicle": {"bmw": ["m3", "x5"], "audi": None}})
        >>> t.inner_nodes
        ['vehicle', 'bmw']
        >>> t.child_for_label("vehicle", "x5")
        'bmw'
        >>> t.distance("m3", "audi")
        3
    """

    name: str
    root: str
    parent: Mapping[str, str | None]
    children: Mapping[str, tuple[str, ...]]
    source: str = field(default="conf/taxonomy", compare=False)

    @classmethod
    def from_tree(cls, name: str, tree: Any, source: str = "conf/taxonomy") -> Taxonomy:
        """Parse the ``tree:`` mapping of a taxonomy YAML file.

        An inner node maps to its children, given either as a mapping (child -> subtree)
        or as a list whose items are leaf names or one-key mappings. A leaf is a name in
        a list or a key whose value is empty.

        Raises:
            ConfigError: the tree is empty, a name repeats, a name is not text, or an
                inner node has fewer than two children (nothing to classify).
        """
        if not isinstance(tree, Mapping) or len(tree) != 1:
            found = "nothing" if not tree else f"{len(tree)} top-level entries"
            raise ConfigError(
                source,
                "tree",
                f"expected exactly one root class with its children, found {found}",
                "write `tree: {root: {child_a: [...], child_b: [...]}}`",
            )
        parent: dict[str, str | None] = {}
        children: dict[str, tuple[str, ...]] = {}
        (root, subtree), = tree.items()
        _add_node(root, subtree, None, parent, children, source, "tree")
        return cls(name, str(root), parent, children, source)

    @property
    def nodes(self) -> list[str]:
        """Every class name, breadth first from the root."""
        return list(self._walk())

    @property
    def inner_nodes(self) -> list[str]:
        """Nodes that get a classifier, breadth first from the root."""
        return [n for n in self._walk() if self.children[n]]

    @property
    def leaves(self) -> list[str]:
        return [n for n in self._walk() if not self.children[n]]

    def as_tree(self, node: str | None = None) -> dict[str, Any]:
        """The nested mapping that :meth:`from_tree` parses back into this taxonomy."""
        node = node or self.root
        kids = self.children[node]
        return {node: {k: v for kid in kids for k, v in self.as_tree(kid).items()} or None}

    def __contains__(self, name: object) -> bool:
        return name in self.parent

    def path(self, name: str) -> list[str]:
        """Names from the root down to ``name``, both included."""
        path = [name]
        while (up := self.parent[path[-1]]) is not None:
            path.append(up)
        return path[::-1]

    def depth(self, name: str) -> int:
        return len(self.path(name)) - 1

    def distance(self, a: str, b: str) -> int:
        """Number of edges between two classes in the tree (0 when equal)."""
        pa, pb = self.path(a), self.path(b)
        common = sum(1 for x, y in zip(pa, pb, strict=False) if x == y)
        return len(pa) + len(pb) - 2 * common

    def child_for_label(self, node: str, label: str) -> str | None:
        """The child of ``node`` that ``label`` falls under, or None.

        A label names a leaf or an inner node; an image labelled only ``bmw`` trains the
        node above ``bmw`` but none below it.
        """
        path = self.path(label)
        if node in path[:-1]:
            return path[path.index(node) + 1]
        return None

    def _walk(self) -> Iterator[str]:
        queue = [self.root]
        while queue:
            node = queue.pop(0)
            yield node
            queue.extend(self.children[node])


def _add_node(
    name: Any,
    subtree: Any,
    up: str | None,
    parent: dict[str, str | None],
    children: dict[str, tuple[str, ...]],
    source: str,
    key: str,
) -> None:
    key = f"{key}.{name}"
    if not isinstance(name, str) or not name:
        raise ConfigError(
            source, key, f"class names must be text, found {name!r}", "quote it: '7'"
        )
    if name in parent:
        where = parent[name] or "the root"
        raise ConfigError(
            source,
            key,
            f"class '{name}' is used twice in the tree (already under '{where}')",
            "every class name must be unique; rename one of them",
        )
    parent[name] = up
    kids = list(_child_items(subtree, source, key))
    if len(kids) == 1:
        raise ConfigError(
            source,
            key,
            f"'{name}' has one child ('{kids[0][0]}'); a classifier needs at least two",
            "add a sibling class or merge the two levels",
        )
    children[name] = tuple(str(k) for k, _ in kids)
    for kid, kid_tree in kids:
        _add_node(kid, kid_tree, name, parent, children, source, key)


def _child_items(subtree: Any, source: str, key: str) -> Iterator[tuple[Any, Any]]:
    if subtree is None:
        return
    if isinstance(subtree, Mapping):
        yield from subtree.items()
    elif isinstance(subtree, list | tuple):
        for item in subtree:
            if isinstance(item, Mapping):
                yield from item.items()
            else:
                yield item, None
    else:
        raise ConfigError(
            source,
            key,
            f"expected a list or mapping of child classes, found {subtree!r}",
        )
