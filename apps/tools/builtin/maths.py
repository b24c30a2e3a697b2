"""Dify's ``maths`` provider: ``eval_expression``, a safe arithmetic evaluator.

No ``eval()``: the expression is parsed with ``ast`` and walked by hand. Only numbers,
``+ - * / // % **``, unary signs, parentheses, a fixed set of ``math`` functions and the
constants ``pi``, ``e`` and ``tau`` are allowed; names, attributes, subscripts, strings,
lambdas and everything else are refused. Limits keep it cheap: expression length, node
count, nesting depth, exponent size and the size of integer results.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from apps.tools.base import (
    BuiltinProvider,
    BuiltinTool,
    ProviderDeclaration,
    ToolContext,
    ToolDeclaration,
    ToolError,
    ToolParameter,
    ToolResult,
)

MAX_EXPRESSION_LENGTH = 1000
MAX_NODES = 400
MAX_DEPTH = 60
MAX_INT_BITS = 13_000  # about 3,900 decimal digits: printable, and cheap to compute
MAX_EXPONENT = 10_000
MAX_FACTORIAL = 1_000

Number = int | float

CONSTANTS: dict[str, Number] = {"pi": math.pi, "e": math.e, "tau": math.tau}


class ExpressionError(ToolError):
    """The expression is not allowed or cannot be computed."""


def _check_int(value: Number) -> Number:
    """Refuse results too large to print or to keep computing with (and inf/nan)."""
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ExpressionError("result too large")
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionError("result too large" if math.isinf(value) else "result is not a number")
    return value


def _power(base: Number, exponent: Number) -> Number:
    if isinstance(exponent, int) and abs(exponent) > MAX_EXPONENT and abs(base) > 1:
        raise ExpressionError(f"exponent too large (at most {MAX_EXPONENT})")
    both_int = isinstance(base, int) and isinstance(exponent, int)
    if both_int and exponent > 0 and int(base).bit_length() * exponent > MAX_INT_BITS:
        raise ExpressionError("result too large")
    result = operator.pow(base, exponent)
    if isinstance(result, complex):
        raise ExpressionError("the result is a complex number")
    return _check_int(result)


def _bounded(limit: int) -> Callable[[Number], int]:
    def check(value: Number) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ExpressionError("expected a whole number")
        if abs(value) > limit:
            raise ExpressionError(f"argument too large (at most {limit})")
        return value

    return check


_small = _bounded(MAX_FACTORIAL)


def _log(x: Number, base: Number | None = None) -> float:
    return math.log(x) if base is None else math.log(x, base)


def _round(x: Number, digits: Number | None = None) -> Number:
    return round(x) if digits is None else round(x, _bounded(100)(digits))


FUNCTIONS: dict[str, Callable[..., Number]] = {
    "abs": abs,
    "round": _round,
    "min": min,
    "max": max,
    "pow": _power,
    "sqrt": math.sqrt,
    "cbrt": math.cbrt,
    "isqrt": math.isqrt,
    "exp": math.exp,
    "log": _log,
    "ln": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "atan2": math.atan2,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "degrees": math.degrees,
    "radians": math.radians,
    "hypot": math.hypot,
    "floor": math.floor,
    "ceil": math.ceil,
    "trunc": math.trunc,
    "fabs": math.fabs,
    "gcd": math.gcd,
    "lcm": lambda *a: _check_int(math.lcm(*(_bounded(2**64)(x) for x in a))),
    "factorial": lambda n: math.factorial(_small(n)),
    "comb": lambda n, k: math.comb(_small(n), _small(k)),
    "perm": lambda n, k: math.perm(_small(n), _small(k)),
}

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Number]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


def evaluate(expression: str) -> Number:
    """The value of ``expression``; raises ExpressionError for anything not allowed."""
    expression = expression.strip()
    if not expression:
        raise ExpressionError("the expression is empty")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        tree = ast.parse(expression, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"invalid expression: {getattr(exc, 'msg', exc)}") from exc
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ExpressionError("expression too complex")
    try:
        return _eval(tree.body, 0)
    except ExpressionError:
        raise
    except ZeroDivisionError as exc:
        raise ExpressionError("division by zero") from exc
    except OverflowError as exc:
        raise ExpressionError("result too large") from exc
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise ExpressionError(f"cannot compute: {exc}") from exc
    except RecursionError as exc:
        raise ExpressionError("expression nested too deeply") from exc


def _eval(node: ast.AST, depth: int) -> Number:
    if depth > MAX_DEPTH:
        raise ExpressionError("expression nested too deeply")
    depth += 1
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExpressionError(f"only numbers are allowed, not {value!r}")
        return _check_int(value)
    if isinstance(node, ast.BinOp):
        binary = _BINARY.get(type(node.op))
        if binary is None:
            hint = " (use ** for powers)" if isinstance(node.op, ast.BitXor) else ""
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed{hint}")
        left, right = _eval(node.left, depth), _eval(node.right, depth)
        return _check_int(binary(left, right))
    if isinstance(node, ast.UnaryOp):
        unary = _UNARY.get(type(node.op))
        if unary is None:
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")
        return unary(_eval(node.operand, depth))
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise ExpressionError(f"unknown name {node.id!r}")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise ExpressionError(f"function {ast.unparse(node.func)!r} is not allowed")
        if node.keywords:
            raise ExpressionError("keyword arguments are not allowed")
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            raise ExpressionError("* arguments are not allowed")
        args = [_eval(arg, depth) for arg in node.args]
        return _check_int(FUNCTIONS[node.func.id](*args))
    if isinstance(node, ast.Attribute):
        raise ExpressionError("attribute access is not allowed")
    raise ExpressionError(f"{type(node).__name__} is not allowed in a math expression")


def format_number(value: Number) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


class EvalExpressionTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="eval_expression",
        label="Eval Math Expression",
        description="A tool for evaluating an math expression.",
        llm_description=(
            "Evaluate an arithmetic expression exactly, e.g. '(3 + 4) * 2 ** 10 / sqrt(2)'. "
            "Supports + - * / // % ** and parentheses, the functions abs round min max pow "
            "sqrt cbrt exp log ln log10 log2 sin cos tan asin acos atan atan2 sinh cosh tanh "
            "degrees radians hypot floor ceil trunc factorial comb perm gcd lcm, and the "
            "constants pi, e and tau."
        ),
        parameters=(
            ToolParameter(
                name="expression", required=True, label="Math Expression",
                human_description="Math Expression",
                llm_description="The arithmetic expression to evaluate.",
            ),
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        expression = str(parameters.get("expression") or "").strip()
        value = evaluate(expression)
        result = format_number(value)
        return ToolResult(
            text=f'The result of the expression "{expression}" is {result}',
            json=[{"expression": expression, "result": value}],
        )


class MathsProvider(BuiltinProvider):
    declaration = ProviderDeclaration(
        name="maths",
        label="Maths",
        description="A tool for maths.",
        tags=("utilities", "productivity"),
    )
    tools = (EvalExpressionTool(),)
