"""One-line JavaScript checks, as promptfoo configs write them, translated to Python expressions.

Only expressions are translated (``output.length < 200``, ``JSON.parse(output).color ===
'yellow' && output.includes('x')``, ``/refund/i.test(output)``), and only what maps without a
change of meaning: literals, ``output``/``context``, member and index access (``a.b`` becomes
``a["b"]``), the common string and array methods, ``JSON``, ``Math``, ``Number``/``String``/
``parseInt``/``parseFloat``, ``Object.keys``/``values``, ``Array.isArray``, comparisons,
``&&``/``||``/``!``/``??``, the conditional operator and single-parameter arrow functions in
``some``/``every``/``filter``/``map``. Anything else (statements, ``function``, ``typeof``,
``var``, template literals) is not translated: the importer writes a failing stub instead.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

__all__ = ["JavaScriptError", "translate"]


class JavaScriptError(ValueError):
    """The JavaScript cannot be translated faithfully."""


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>\d+\.\d*|\.\d+|\d+)
  | (?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>===|!==|==|!=|<=|>=|&&|\|\||\?\?|=>|\?\.|[-+*/%<>!?:.,()\[\]{}])
  | (?P<template>`)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str


class _Regex(ast.expr):
    """A regular expression literal, until the method that uses it turns it into a ``re`` call."""

    _fields = ()

    def __init__(self, token: _Token) -> None:
        super().__init__()
        self.token = token


def _regex_literal(source: str, at: int) -> tuple[str, str, int] | None:
    """``(pattern, flags, end)`` of a regex literal starting at ``at`` (a ``/``)."""
    position, in_class = at + 1, False
    while position < len(source):
        char = source[position]
        if char == "\\":
            position += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "/" and not in_class:
            flags = re.match(r"[a-z]*", source[position + 1 :])
            assert flags is not None
            return source[at + 1 : position], flags[0], position + 1 + len(flags[0])
        elif char == "\n":
            return None
        position += 1
    return None


def _tokens(source: str) -> list[_Token]:
    out: list[_Token] = []
    position = 0
    while position < len(source):
        if source[position] == "/" and (not out or (out[-1].kind == "op" and out[-1].text not in (")", "]"))):
            literal = _regex_literal(source, position)
            if literal is None:
                raise JavaScriptError("an unterminated regular expression")
            pattern, flags, position = literal
            out.append(_Token("regex", f"{flags}/{pattern}"))
            continue
        match = _TOKEN.match(source, position)
        if match is None:
            raise JavaScriptError(f"cannot read {source[position : position + 10]!r}")
        kind = match.lastgroup or ""
        if kind == "template":
            raise JavaScriptError("template literals are not translated")
        if kind != "space":
            out.append(_Token(kind, match[0]))
        position = match.end()
    return out


_BINARY = {
    "||": (1, None),
    "??": (1, None),
    "&&": (2, None),
    "===": (3, ast.Eq()),
    "==": (3, ast.Eq()),
    "!==": (3, ast.NotEq()),
    "!=": (3, ast.NotEq()),
    "<": (4, ast.Lt()),
    "<=": (4, ast.LtE()),
    ">": (4, ast.Gt()),
    ">=": (4, ast.GtE()),
    "+": (5, ast.Add()),
    "-": (5, ast.Sub()),
    "*": (6, ast.Mult()),
    "/": (6, ast.Div()),
    "%": (6, ast.Mod()),
}
_FLAGS = {"i": "IGNORECASE", "m": "MULTILINE", "s": "DOTALL"}
_STRING_METHODS = {
    "toLowerCase": "lower",
    "toUpperCase": "upper",
    "trim": "strip",
    "trimStart": "lstrip",
    "trimEnd": "rstrip",
    "startsWith": "startswith",
    "endsWith": "endswith",
}
_NAMES = {"output": "output", "context": "context"}
_GLOBALS = frozenset(
    {"JSON", "Math", "Object", "Array", "Number", "parseFloat", "parseInt", "String", "Boolean"}
)
_CONSTANTS = {"true": True, "false": False, "null": None, "undefined": None}


def _name(identifier: str) -> ast.expr:
    return ast.Name(identifier, ast.Load())


def _call(func: ast.expr, *args: ast.expr) -> ast.Call:
    return ast.Call(func, list(args), [])


def _attr(value: ast.expr, name: str) -> ast.Attribute:
    return ast.Attribute(value, name, ast.Load())


def _regex_parts(token: _Token) -> tuple[str, list[ast.expr]]:
    flags, _, pattern = token.text.partition("/")
    unknown = set(flags) - set(_FLAGS) - {"g"}
    if unknown:
        raise JavaScriptError(f"regex flag {sorted(unknown)[0]!r} is not translated")
    extra: list[ast.expr] = []
    chosen = [f for f in flags if f in _FLAGS]
    if chosen:
        combined: ast.expr = _attr(_name("re"), _FLAGS[chosen[0]])
        for flag in chosen[1:]:
            combined = ast.BinOp(combined, ast.BitOr(), _attr(_name("re"), _FLAGS[flag]))
        extra.append(combined)
    if "(?<" in pattern and "(?<=" not in pattern and "(?<!" not in pattern:
        pattern = pattern.replace("(?<", "(?P<")  # JavaScript's named groups
    return pattern, extra


class _Parser:
    """A Pratt parser from JavaScript tokens to a Python expression tree."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.at = 0
        #: Parameters of the arrow functions being read: names their bodies may use.
        self.bound: list[str] = []

    def peek(self, offset: int = 0) -> _Token | None:
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def next_is(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.text == text

    def take(self, text: str | None = None) -> _Token:
        token = self.peek()
        if token is None or (text is not None and token.text != text):
            raise JavaScriptError(f"expected {text!r}" if text else "unexpected end")
        self.at += 1
        return token

    def expression(self, power: int = 0) -> ast.expr:
        left = self.unary()
        while True:
            token = self.peek()
            if token is None:
                return left
            if token.text == "?" and power == 0:
                self.take("?")
                then = self.expression()
                self.take(":")
                otherwise = self.expression()
                left = ast.IfExp(left, then, otherwise)
                continue
            if token.kind != "op" or token.text not in _BINARY:
                return left
            strength, operator = _BINARY[token.text]
            if strength <= power:
                return left
            self.take()
            right = self.expression(strength)
            if token.text == "&&":
                left = ast.BoolOp(ast.And(), [left, right])
            elif token.text == "||":
                left = ast.BoolOp(ast.Or(), [left, right])
            elif token.text == "??":
                test = ast.Compare(left, [ast.IsNot()], [ast.Constant(None)])
                left = ast.IfExp(test, left, right)
            elif isinstance(operator, ast.cmpop):
                left = ast.Compare(left, [operator], [right])
            else:
                assert isinstance(operator, ast.operator)
                left = ast.BinOp(left, operator, right)

    def unary(self) -> ast.expr:
        token = self.peek()
        if token is not None and token.text == "!":
            self.take()
            return ast.UnaryOp(ast.Not(), self.unary())
        if token is not None and token.text in ("-", "+"):
            self.take()
            return ast.UnaryOp(ast.USub() if token.text == "-" else ast.UAdd(), self.unary())
        return self.postfix(self.primary())

    def primary(self) -> ast.expr:
        token = self.take()
        if token.kind == "number":
            return ast.Constant(float(token.text) if "." in token.text else int(token.text))
        if token.kind == "string":
            return ast.Constant(ast.literal_eval(token.text.replace("\\/", "/")))
        if token.kind == "regex":
            return _Regex(token)
        if token.text == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if token.text == "[":
            items = self.arguments("]")
            return ast.List(items, ast.Load())
        if token.kind == "name":
            if token.text in _CONSTANTS:
                return ast.Constant(_CONSTANTS[token.text])
            if token.text in _NAMES:
                return _name(_NAMES[token.text])
            if token.text in self.bound:
                return _name(token.text)
            return self.global_call(token.text)
        raise JavaScriptError(f"{token.text!r} is not translated")

    def global_call(self, name: str) -> ast.expr:
        """``JSON.parse(x)``, ``Math.max(...)``, ``Number(x)``, ``Object.keys(x)``, ..."""
        if name not in _GLOBALS:
            raise JavaScriptError(f"{name!r} is not translated")
        member = None
        if self.next_is(".") and name in ("JSON", "Math", "Object", "Array", "Number"):
            self.take(".")
            member = self.take().text
        self.take("(")
        args = self.arguments(")")
        table: dict[tuple[str, str | None], ast.expr] = {
            ("JSON", "parse"): _attr(_name("json"), "loads"),
            ("JSON", "stringify"): _attr(_name("json"), "dumps"),
            ("Math", "max"): _name("max"),
            ("Math", "min"): _name("min"),
            ("Math", "abs"): _name("abs"),
            ("Math", "round"): _name("round"),
            ("Math", "floor"): _attr(_name("math"), "floor"),
            ("Math", "ceil"): _attr(_name("math"), "ceil"),
            ("Math", "sqrt"): _attr(_name("math"), "sqrt"),
            ("Math", "log"): _attr(_name("math"), "log"),
            ("Number", None): _name("float"),
            ("parseFloat", None): _name("float"),
            ("parseInt", None): _name("int"),
            ("String", None): _name("str"),
            ("Boolean", None): _name("bool"),
            ("Object", "keys"): _name("list"),
        }
        if (name, member) == ("Object", "values") and len(args) == 1:
            return _call(_name("list"), _call(_attr(args[0], "values")))
        if (name, member) == ("Object", "entries") and len(args) == 1:
            return _call(_name("list"), _call(_attr(args[0], "items")))
        if (name, member) == ("Array", "isArray") and len(args) == 1:
            return _call(_name("isinstance"), args[0], _name("list"))
        if (name, member) == ("Number", "isInteger") and len(args) == 1:
            return _call(_name("isinstance"), args[0], _name("int"))
        if (name, member) == ("parseInt", None) and len(args) == 2:
            args = args[:1]  # the radix: int() reads base 10
        func = table.get((name, member))
        if func is None:
            raise JavaScriptError(f"{name}{'.' + member if member else ''}() is not translated")
        return _call(func, *args)

    def arguments(self, closing: str) -> list[ast.expr]:
        items: list[ast.expr] = []
        while self.peek() is not None and not self.next_is(closing):
            items.append(self.argument())
            if self.next_is(","):
                self.take(",")
        self.take(closing)
        return items

    def argument(self) -> ast.expr:
        """An argument: an expression, or a one-parameter arrow function (kept as a lambda)."""
        first, second = self.peek(), self.peek(1)
        if first is not None and first.kind == "name" and second is not None and second.text == "=>":
            self.at += 2
            return self.arrow(first.text)
        if first is not None and first.text == "(":
            third, fourth = self.peek(2), self.peek(3)
            if (
                second is not None
                and second.kind == "name"
                and third
                and third.text == ")"
                and fourth
                and fourth.text == "=>"
            ):
                self.at += 4
                return self.arrow(second.text)
        return self.expression()

    def arrow(self, parameter: str) -> ast.Lambda:
        if self.next_is("{"):
            raise JavaScriptError("an arrow function with a body block is not translated")
        self.bound.append(parameter)
        try:
            body = self.expression()
        finally:
            self.bound.pop()
        return ast.Lambda(ast.arguments([], [ast.arg(parameter)], None, [], [], None, []), body)

    def postfix(self, value: ast.expr) -> ast.expr:
        while True:
            token = self.peek()
            if token is None:
                return value
            if token.text in (".", "?."):
                self.take()
                name = self.take()
                if name.kind != "name":
                    raise JavaScriptError(f"a property name was expected, not {name.text!r}")
                if self.next_is("("):
                    self.take("(")
                    value = self.method(value, name.text, self.arguments(")"))
                elif name.text == "length":
                    value = _call(_name("len"), value)
                else:
                    value = ast.Subscript(value, ast.Constant(name.text), ast.Load())
            elif token.text == "[":
                self.take("[")
                index = self.expression()
                self.take("]")
                value = ast.Subscript(value, index, ast.Load())
            else:
                return value

    def method(self, receiver: ast.expr, name: str, args: list[ast.expr]) -> ast.expr:
        if isinstance(receiver, _Regex):
            pattern, flags = _regex_parts(receiver.token)
            if name == "test" and len(args) == 1:
                found = _call(_attr(_name("re"), "search"), ast.Constant(pattern), args[0], *flags)
                return ast.Compare(found, [ast.IsNot()], [ast.Constant(None)])
            raise JavaScriptError(f"regex.{name}() is not translated")
        regex = (
            args[0].value
            if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, _Token)
            else None
        )
        if regex is not None:
            pattern, flags = _regex_parts(regex)
            if name == "match" and len(args) == 1:
                return _call(_attr(_name("re"), "search"), ast.Constant(pattern), receiver, *flags)
            if name == "search" and len(args) == 1:
                found = _call(_attr(_name("re"), "search"), ast.Constant(pattern), receiver, *flags)
                return ast.IfExp(found, _call(_attr(found, "start")), ast.Constant(-1))
            if name == "replace" and len(args) == 2:
                count = [] if "g" in regex.text.partition("/")[0] else [ast.Constant(1)]
                sub = _call(_attr(_name("re"), "sub"), ast.Constant(pattern), args[1], receiver, *count)
                if flags:
                    sub.keywords = [ast.keyword("flags", flags[0])]
                return sub
            if name == "split" and len(args) == 1:
                return _call(_attr(_name("re"), "split"), ast.Constant(pattern), receiver, *flags)
            raise JavaScriptError(f".{name}() with a regular expression is not translated")
        if name == "includes" and len(args) == 1:
            return ast.Compare(args[0], [ast.In()], [receiver])
        if name in _STRING_METHODS and len(args) <= 1:
            return _call(_attr(receiver, _STRING_METHODS[name]), *args)
        if name == "split" and len(args) == 1:
            return _call(_attr(receiver, "split"), *args)
        if name == "indexOf" and len(args) == 1:
            return ast.IfExp(
                ast.Compare(args[0], [ast.In()], [receiver]),
                _call(_attr(receiver, "index"), args[0]),
                ast.Constant(-1),
            )
        if name == "join" and len(args) <= 1:
            separator = args[0] if args else ast.Constant(",")
            return _call(_attr(separator, "join"), receiver)
        if name in ("slice", "substring") and 1 <= len(args) <= 2:
            upper = args[1] if len(args) == 2 else None
            return ast.Subscript(receiver, ast.Slice(args[0], upper), ast.Load())
        if name == "charAt" and len(args) == 1:
            return ast.Subscript(receiver, args[0], ast.Load())
        if name == "toString" and not args:
            return _call(_name("str"), receiver)
        if name == "replace" and len(args) == 2:
            return _call(_attr(receiver, "replace"), args[0], args[1], ast.Constant(1))
        if name == "replaceAll" and len(args) == 2:
            return _call(_attr(receiver, "replace"), args[0], args[1])
        if (
            name in ("some", "every", "filter", "map", "find")
            and len(args) == 1
            and isinstance(args[0], ast.Lambda)
        ):
            return _iteration(name, receiver, args[0])
        raise JavaScriptError(f".{name}() is not translated")


def _iteration(name: str, receiver: ast.expr, fn: ast.Lambda) -> ast.expr:
    variable = fn.args.args[0].arg
    target = ast.Name(variable, ast.Store())
    if name in ("some", "every"):
        generator = ast.GeneratorExp(fn.body, [ast.comprehension(target, receiver, [], 0)])
        return _call(_name("any" if name == "some" else "all"), generator)
    if name == "filter":
        return ast.ListComp(_name(variable), [ast.comprehension(target, receiver, [fn.body], 0)])
    if name == "find":
        found = ast.GeneratorExp(_name(variable), [ast.comprehension(target, receiver, [fn.body], 0)])
        return _call(_name("next"), found, ast.Constant(None))
    return ast.ListComp(fn.body, [ast.comprehension(target, receiver, [], 0)])


def translate(source: str) -> str:
    """A Python expression meaning what the one-line JavaScript ``source`` means, or ``JavaScriptError``."""
    text = source.strip()
    if text.startswith("return "):
        text = text[len("return ") :]
    text = text.rstrip(";").strip()
    if not text or "\n" in text or ";" in text:
        raise JavaScriptError("only a single expression is translated")
    parser = _Parser(_tokens(text))
    tree = parser.expression()
    left = parser.peek()
    if left is not None:
        raise JavaScriptError(f"{left.text!r} is not translated")
    for node in ast.walk(tree):
        if isinstance(node, _Regex):
            raise JavaScriptError(
                "a regular expression outside .test()/.match()/.replace() is not translated"
            )
    return ast.unparse(ast.fix_missing_locations(ast.Expression(tree)))
