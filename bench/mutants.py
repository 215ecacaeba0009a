"""The mutants of one module's source, for ``python -m bench.mutation``.

Each mutant is one small change to the module's AST, with a stable id (a hash of
its module, function, operator and code — not its line) and an ``apply`` that makes
the change in the tree and returns the function that undoes it.
"""

from __future__ import annotations

import ast
import copy
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

_CMP_FLIPS: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    ast.Lt: (ast.LtE, ast.GtE),
    ast.LtE: (ast.Lt, ast.Gt),
    ast.Gt: (ast.GtE, ast.LtE),
    ast.GtE: (ast.Gt, ast.Lt),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
}
_DROPPABLE = (
    ast.Expr,
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.Raise,
    ast.Return,
    ast.Break,
    ast.Continue,
    ast.If,
)
_ORDER_FREE_CALLS = {"startswith", "endswith", "isinstance", "issubclass"}


@dataclass(slots=True)
class Mutant:
    """One change to one module: what it is and where, and how to make it."""

    id: str
    line: int
    where: str
    op: str
    before: str
    after: str
    apply: Callable[[], Callable[[], None]] = field(repr=False)


# -- generating mutants ---------------------------------------------------------


def _short(node: ast.AST) -> str:
    text = ast.unparse(node).split("\n")[0]
    return text if len(text) <= 70 else text[:67] + "..."


def _skipped_subtrees(tree: ast.Module) -> set[int]:
    """ids of nodes (and their descendants) never mutated."""
    skip: set[int] = set()

    def mark(node: ast.AST | None) -> None:
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        value = first.value if isinstance(first, ast.Expr) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            mark(first)  # a docstring
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            mark(node.returns)
            for a in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs]:
                mark(a.annotation)
            for d in node.decorator_list:
                mark(d)
        elif isinstance(node, ast.ClassDef):
            for d in node.decorator_list:
                mark(d)
        elif isinstance(node, ast.AnnAssign):
            mark(node.annotation)
        elif (
            isinstance(node, ast.JoinedStr | ast.Assert)
            or (isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
            or (
                isinstance(node, ast.Assign)
                and any(
                    isinstance(t, ast.Name) and t.id in ("__all__", "__slots__")
                    for t in node.targets
                )
            )
        ):
            mark(node)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Attribute) and ast.unparse(func.value) in ("log", "logger"):
                mark(node)
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("Literal", "tuple"):
            mark(node)  # a type
        elif isinstance(node, ast.ExceptHandler):
            mark(node.type)
        elif isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In | ast.NotIn):
            for c in node.comparators:
                if isinstance(c, ast.Tuple | ast.List):
                    skip.add(id(c))  # `x in (a, b)`: order-free, but mutate inside
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else None
            name = node.func.id if isinstance(node.func, ast.Name) else name
            if name in _ORDER_FREE_CALLS:
                skip.update(id(a) for a in node.args if isinstance(a, ast.Tuple))
    return skip


def _setter(node: ast.AST, attr: str, value: object) -> Callable[[], Callable[[], None]]:
    def apply() -> Callable[[], None]:
        old = getattr(node, attr)
        setattr(node, attr, value)
        return lambda: setattr(node, attr, old)

    return apply


def _swap(seq: list[ast.expr]) -> Callable[[], Callable[[], None]]:
    def apply() -> Callable[[], None]:
        seq[0], seq[1] = seq[1], seq[0]
        return lambda: seq.__setitem__(slice(0, 2), [seq[1], seq[0]])

    return apply


def _swappable(items: list[ast.expr]) -> bool:
    """Two leading items that differ and are not ``*args``."""
    if len(items) < 2 or any(isinstance(a, ast.Starred) for a in items[:2]):
        return False
    return ast.dump(items[0]) != ast.dump(items[1])


def _changes(
    node: ast.AST, parent_body: list[ast.stmt] | None, module_level: bool
) -> Iterator[tuple[str, object]]:
    """(operator, change) pairs; a change is (attr, new value) or a swap list."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for new in _CMP_FLIPS.get(type(op), ()):
                ops = list(node.ops)
                ops[i] = new()
                yield "compare", ("ops", ops)
    elif isinstance(node, ast.BoolOp):
        yield "boolop", ("op", ast.Or() if isinstance(node.op, ast.And) else ast.And())
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not", ("__replace__", node.operand)
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield "bool", ("value", not node.value)
    elif isinstance(node, ast.Constant) and isinstance(node.value, int):
        yield "int+1", ("value", node.value + 1)
        yield "int-1", ("value", node.value - 1)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        if any(
            isinstance(x, ast.JoinedStr)
            or (isinstance(x, ast.Constant) and isinstance(x.value, str))
            for x in (node.left, node.right)
        ):
            return  # string concatenation: `-` only raises TypeError
        yield "arith", ("op", ast.Sub() if isinstance(node.op, ast.Add) else ast.Add())
    elif isinstance(node, ast.Call) and _swappable(node.args):
        yield "swap-args", node.args
    elif isinstance(node, ast.List | ast.Tuple) and _swappable(node.elts):
        yield from [("swap-items", node.elts)] if isinstance(node.ctx, ast.Load) else []
    droppable = isinstance(node, _DROPPABLE) and not (isinstance(node, ast.If) and node.orelse)
    if parent_body is not None and droppable and not module_level:
        yield "drop", ("__drop__", None)


def mutants(source: str, module: str) -> tuple[ast.Module, list[Mutant]]:
    """The module's tree and its mutants (applying one changes that tree)."""
    tree = ast.parse(source)
    skip = _skipped_subtrees(tree)
    parents: dict[int, tuple[ast.AST, str, list[ast.stmt] | None]] = {}
    scopes: dict[int, str] = {}

    def index(node: ast.AST, scope: str) -> None:
        for name, value in ast.iter_fields(node):
            children = value if isinstance(value, list) else [value]
            for child in children:
                if isinstance(child, ast.AST):
                    body = (
                        value if isinstance(value, list) and isinstance(child, ast.stmt) else None
                    )
                    parents[id(child)] = (node, name, body)
                    inner = scope
                    if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                        inner = f"{scope}.{child.name}" if scope else child.name
                    scopes[id(child)] = inner
                    index(child, inner)

    index(tree, "")
    found: list[Mutant] = []
    seen: dict[str, int] = {}
    for node in ast.walk(tree):
        if id(node) in skip or node is tree:
            continue
        parent, attr, body = parents[id(node)]
        for op, change in _changes(node, body, parent is tree):
            apply = _make_apply(node, parent, attr, body, change)
            before = _short(node)
            undo = apply()
            if op == "drop":
                after = "pass"
            elif op == "not":
                after = _short(node.operand)  # type: ignore[attr-defined]
            else:
                after = _short(node)
            undo()
            where = scopes.get(id(node), "") or "<module>"
            key = f"{module}|{where}|{op}|{before}|{after}"
            seen[key] = seen.get(key, 0) + 1
            digest = hashlib.sha1(f"{key}|{seen[key]}".encode()).hexdigest()[:8]
            line = getattr(node, "lineno", 0)
            found.append(Mutant(digest, line, where, op, before, after, apply))
    return tree, found


def _make_apply(
    node: ast.AST, parent: ast.AST, attr: str, body: list[ast.stmt] | None, change: object
) -> Callable[[], Callable[[], None]]:
    if isinstance(change, list):
        return _swap(change)
    assert isinstance(change, tuple)
    what, value = change
    if what == "__drop__":
        assert body is not None
        return _replace_in_list(body, node, ast.Pass())
    if what == "__replace__":
        container = getattr(parent, attr)
        if isinstance(container, list):
            return _replace_in_list(container, node, value)  # type: ignore[arg-type]
        return _setter(parent, attr, value)
    return _setter(node, what, value)


def _replace_in_list(seq: list, old: ast.AST, new: ast.AST) -> Callable[[], Callable[[], None]]:
    def apply() -> Callable[[], None]:
        i = next(i for i, item in enumerate(seq) if item is old)
        seq[i] = copy.copy(new)
        ast.copy_location(seq[i], old)
        return lambda: seq.__setitem__(i, old)

    return apply
