"""The budget one template render may spend: loop iterations, CPU time and the size of what it builds.

Templates come from the API, so a rubric is untrusted code. Jinja's sandbox stops it reaching Python
internals but not from spending: nested ``range(10000)`` loops, ``10 ** 100 ** 100``, ``'x' * 10**9``,
``'%0100000000d' % 1``, ``center(10**8)`` or a string doubled by ``~`` in a loop each stall or exhaust
the process. The sandbox in ``render.py`` charges every loop step, operator, call and filter to the
render's :class:`Budget` and checks *before* an operation that would build something over the size
limit, because checking after it is too late for memory.

A refusal is :class:`BudgetExceeded`, whose message names the construct (``loop at line 3``,
``'**'``, ``filter 'center'``) so a rubric author knows what to change.
"""

from __future__ import annotations

import contextvars
import gc
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from jinja2.exceptions import SecurityError

# Sized so the shipped templates over the largest texts a request may carry (5 texts of
# ``max_text_chars`` = 100,000) fit with room to spare, and a hostile one cannot go far.
MAX_ITERATIONS = 50_000          # loop steps per render, all loops together
MAX_CPU_SECONDS = 0.1            # thread CPU time per render (not wall time: load on the box doesn't count)
MAX_VALUE_CHARS = 4_000_000      # any one value the template builds, and the whole output
MAX_REPEAT_CHARS = 100_000       # 'x' * n and [v] * n: a rubric has no use for more (padding, rules)
MAX_INT_BITS = 4_096             # integers: '10 ** 100 ** 100' is refused before Python starts on it

_DIGITS = re.compile(r"\d+")


class BudgetExceeded(SecurityError):
    """A template tried to spend more than a render's budget; the message names the construct."""


# Thread CPU spent in the garbage collector's full passes, per thread. A full pass that happens to run
# during a render (100-250 ms on a loaded service's heap) is the process's spending, not the
# template's: without this a valid rubric was refused with a 422 under load.
_gc_cpu: dict[int, float] = {}
_gc_started: dict[int, float] = {}


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if info.get("generation") != 2:
        return
    thread = threading.get_ident()
    if phase == "start":
        _gc_started[thread] = time.thread_time()
    elif thread in _gc_started:
        _gc_cpu[thread] = _gc_cpu.get(thread, 0.0) + time.thread_time() - _gc_started.pop(thread)


gc.callbacks.append(_on_gc)


def gc_cpu_seconds() -> float:
    """This thread's CPU time in full collections so far."""
    return _gc_cpu.get(threading.get_ident(), 0.0)


@dataclass
class Budget:
    deadline: float = field(default_factory=lambda: time.thread_time() + MAX_CPU_SECONDS)
    iterations: int = 0
    output_chars: int = 0
    gc_at_start: float = field(default_factory=gc_cpu_seconds)

    def tick(self, what: str) -> None:
        now = time.thread_time()
        if now > self.deadline and now - (gc_cpu_seconds() - self.gc_at_start) > self.deadline:
            raise BudgetExceeded(f"{what} ran past the template's {MAX_CPU_SECONDS * 1000:.0f} ms CPU budget")


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("template_budget", default=None)


def current() -> Budget:
    """The running render's budget (a render outside ``rendering()`` gets a fresh one per step: still bounded)."""
    budget = _current.get()
    return budget if budget is not None else Budget()


class rendering:  # lower case: used as ``with rendering():``, like a function
    """Context manager: one budget for the renders inside it."""

    def __enter__(self) -> Budget:
        self._budget = Budget()
        self._token = _current.set(self._budget)
        return self._budget

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)


def weight(value: Any, limit: int = MAX_VALUE_CHARS) -> int:
    """Roughly ``len(str(value))``, without building it; stops counting once past ``limit``.

    Containers count their length before their items are visited, so the walk is at most ``limit``
    steps even for ``[s] * 100000``, which is one short list holding a long string many times.
    """
    total = 0
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            total += len(v)
        elif isinstance(v, bool) or v is None:
            total += 5
        elif isinstance(v, int):
            total += v.bit_length() // 3 + 1
        elif isinstance(v, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(v)
            if total <= limit:
                stack.extend(v)
        elif isinstance(v, dict):
            total += 2 + 4 * len(v)
            if total <= limit:
                stack.extend(v.keys())
                stack.extend(v.values())
        else:
            total += 16
        if total > limit:
            return total
    return total


def check_size(value: Any, what: str) -> Any:
    if weight(value) > MAX_VALUE_CHARS:
        raise BudgetExceeded(f"{what} would build a value over {MAX_VALUE_CHARS:,} characters")
    return value


def check_int_args(args: tuple[Any, ...], kwargs: dict[str, Any], what: str) -> None:
    """Widths, counts and repeat arguments: none may exceed the size limit."""
    for a in (*args, *kwargs.values()):
        if isinstance(a, int) and not isinstance(a, bool) and abs(a) > MAX_VALUE_CHARS:
            raise BudgetExceeded(f"{what} with argument {a} exceeds the template budget "
                                 f"(widths and counts at most {MAX_VALUE_CHARS:,})")


def check_format_string(fmt: str, what: str) -> None:
    """``'%0100000000d'`` and ``'{:>100000000}'``: a width in the format string itself."""
    for run in _DIGITS.findall(fmt):
        if len(run) > 7 or int(run) > MAX_VALUE_CHARS:
            raise BudgetExceeded(f"{what} with width {run} exceeds the template budget "
                                 f"(widths at most {MAX_VALUE_CHARS:,})")


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse an operator whose result would be too big, before computing it."""
    what = f"operator '{operator}'"
    numbers = (int, float)
    if operator == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0:
            if max(left.bit_length(), 1) * right > MAX_INT_BITS:
                raise BudgetExceeded(f"{what}: {left.bit_length()}-bit base to the power {right} would exceed "
                                     f"{MAX_INT_BITS} bits")
        elif isinstance(right, numbers) and abs(right) > MAX_INT_BITS:
            raise BudgetExceeded(f"{what}: exponent {right} is larger than {MAX_INT_BITS}")
    elif operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise BudgetExceeded(f"{what}: the product would exceed {MAX_INT_BITS} bits")
            return
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and times > 0:
                if weight(seq) * times > MAX_REPEAT_CHARS:
                    raise BudgetExceeded(f"{what}: repeating a value {times} times would build over "
                                         f"{MAX_REPEAT_CHARS:,} characters")
    elif operator == "+":
        if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            if weight(left) + weight(right) > MAX_VALUE_CHARS:
                raise BudgetExceeded(f"{what} would build a value over {MAX_VALUE_CHARS:,} characters")
        elif isinstance(left, int) and isinstance(right, int) and max(left.bit_length(), right.bit_length()) > MAX_INT_BITS:
            raise BudgetExceeded(f"{what}: operands over {MAX_INT_BITS} bits")
    elif operator == "%" and isinstance(left, str):
        check_format_string(left, "'%' formatting")
        args = right if isinstance(right, tuple) else (right,)
        check_int_args(args, {}, "'%' formatting")
        if weight(left) + weight(right) > MAX_VALUE_CHARS:
            raise BudgetExceeded(f"'%' formatting would build a value over {MAX_VALUE_CHARS:,} characters")


def iterate(iterable: Any, lineno: int) -> Iterator[Any]:
    """Every ``{% for %}`` runs through this: one step of the shared iteration budget each."""
    budget = current()
    what = f"the loop at line {lineno}"
    for item in iterable:
        budget.iterations += 1
        if budget.iterations > MAX_ITERATIONS:
            raise BudgetExceeded(f"{what} took the render past {MAX_ITERATIONS:,} loop iterations")
        if not budget.iterations % 64:
            budget.tick(what)
        yield item


def concat(lineno: int, *parts: Any) -> str:
    """``a ~ b``: the joined length is checked before the string is built."""
    what = f"'~' at line {lineno}"
    current().tick(what)
    total = 0
    for p in parts:
        total += weight(p)
        if total > MAX_VALUE_CHARS:
            raise BudgetExceeded(f"{what} would build a string over {MAX_VALUE_CHARS:,} characters")
    return "".join(str(p) for p in parts)


def output(lineno: int, value: Any) -> Any:
    """Each ``{{ … }}``: its size counts toward the render's output limit."""
    budget = current()
    budget.tick(f"the expression at line {lineno}")
    budget.output_chars += weight(value)
    if budget.output_chars > MAX_VALUE_CHARS:
        raise BudgetExceeded(f"the output passed {MAX_VALUE_CHARS:,} characters at the expression at line {lineno}")
    return value
