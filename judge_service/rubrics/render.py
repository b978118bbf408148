"""Rendering a rubric into judge messages, in a Jinja2 sandbox.

Templates come from files and from the API, so they are untrusted: the immutable sandbox refuses
attribute access to Python internals, every loop, operator, call, filter and output is charged to
the render's budget (``budget.py``), and every template is test-rendered under that budget with
worst-case inputs when added, so a bad one is refused up front rather than at the first verdict.
Compiled templates are cached by their text.

This module knows templates only. The texts under judgment arrive already wrapped in their data
tags, and the answer instructions are appended, by ``engine/prompts.py``: ``rubrics/`` imports
nothing from ``engine/``, so the line between "what a rubric says" and "how a judge is asked" is
one import direction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, Template, TemplateError, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from judge_service.errors import InvalidInput
from judge_service.rubrics import budget
from judge_service.rubrics.budget import BudgetExceeded

if TYPE_CHECKING:
    from judge_service.rubrics.model import Criterion, Rubric

# Worst-case inputs for the test render at add time: as long as a request may send (the default
# ``max_text_chars``), in short lines, so a loop over a text's characters or lines is refused up front.
WORST_CASE_TEXT_CHARS = 100_000
_WORST_TEXT = ("lorem ipsum dolor sit amet, consectetur\n" * (WORST_CASE_TEXT_CHARS // 40 + 1))[:WORST_CASE_TEXT_CHARS]

# str methods that build a string from a width or count argument, or from other values.
_SIZING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "join", "replace", "splitlines", "split"})


class _Instrument(NodeTransformer):
    """Routes every loop, ``~`` and ``{{ … }}`` of a parsed template through ``budget``."""

    def _hook(self, name: str, lineno: int, *args: nodes.Expr) -> nodes.Call:
        return nodes.Call(nodes.EnvironmentAttribute(name), [nodes.Const(lineno), *args], [], None, None, lineno=lineno)

    def visit_For(self, node: nodes.For) -> nodes.For:
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.EnvironmentAttribute("budget_iterate"), [node.iter, nodes.Const(node.lineno)],
                               [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Call:
        self.generic_visit(node)
        return self._hook("budget_concat", node.lineno, *node.nodes)

    def visit_Output(self, node: nodes.Output) -> nodes.Output:
        self.generic_visit(node)
        node.nodes = [n if isinstance(n, nodes.TemplateData) else self._hook("budget_output", n.lineno, n)
                      for n in node.nodes]
        return node


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    passes_arg = getattr(func, "jinja_pass_arg", None) is not None

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        what = f"filter '{name}'"
        budget.current().tick(what)
        value, rest = (args[1], args[2:]) if passes_arg else (args[0], args[1:])
        budget.check_int_args(rest, kwargs, what)
        if name in ("join", "sum"):
            budget.check_size(value, what)
        elif name == "format" and isinstance(value, str):
            budget.check_format_string(value, what)
        elif name in ("indent", "center", "wordwrap", "replace"):
            # each adds at most (its string arguments' size) per line or per occurrence of the text
            extra = sum(budget.weight(a) for a in (*rest, *kwargs.values()) if isinstance(a, (str, int)))
            units = str(value).count("\n") + 1 if name != "replace" else len(str(value)) + 1
            if budget.weight(value) + extra * units > budget.MAX_VALUE_CHARS:
                raise BudgetExceeded(f"{what} would build a string over {budget.MAX_VALUE_CHARS:,} characters")
        return budget.check_size(func(*args, **kwargs), what)

    return wrapper


class _BudgetedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with every loop, operator, call and filter charged to the render's budget."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.budget_iterate = budget.iterate
        self.budget_concat = budget.concat
        self.budget_output = budget.output
        self._hooks = (budget.iterate, budget.concat, budget.output)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget.current().tick(f"operator '{operator}'")
        budget.check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if __obj in __self._hooks:  # our own instrumentation: not charged, and without jinja's scope kwargs
            return __obj(*args)
        what = f"macro '{__obj.name}'" if isinstance(__obj, Macro) else f"'{getattr(__obj, '__name__', type(__obj).__name__)}'"
        budget.current().tick(what)
        budget.check_int_args(args, kwargs, what)
        if getattr(__obj, "__name__", None) in _SIZING_METHODS and isinstance(getattr(__obj, "__self__", None), str):
            target: str = __obj.__self__
            if __obj.__name__ == "join":
                budget.check_size([target, *args], what)
            elif __obj.__name__ == "replace" and len(args) >= 2 and isinstance(args[0], str):
                count = target.count(args[0]) if args[0] else len(target) + 1
                if len(target) + count * (budget.weight(args[1]) - len(args[0])) > budget.MAX_VALUE_CHARS:
                    raise BudgetExceeded(f"{what} would build a string over {budget.MAX_VALUE_CHARS:,} characters")
            elif __obj.__name__ == "expandtabs" and args and isinstance(args[0], int):
                if len(target) + target.count("\t") * args[0] > budget.MAX_VALUE_CHARS:
                    raise BudgetExceeded(f"{what} would build a string over {budget.MAX_VALUE_CHARS:,} characters")
        return budget.check_size(super().call(__context, __obj, *args, **kwargs), what)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt: str = value.__self__

        def bounded(*args: Any, **kwargs: Any) -> str:
            what = "'format'"
            budget.current().tick(what)
            budget.check_format_string(fmt, what)
            budget.check_int_args(args, kwargs, what)
            return budget.check_size(wrapped(*args, **kwargs), what)  # type: ignore[no-any-return]

        return bounded


_ENV = _BudgetedSandbox(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    """Parse, instrument and compile once per template text (compiling was ~20% of a cached verdict)."""
    tree = _Instrument().visit(_ENV.parse(source))
    return _ENV.template_class.from_code(_ENV, _ENV.compile(tree), _ENV.make_globals(None), None)


DEFAULT_TEMPLATES = {
    "absolute": """Evaluate the assistant's final response in the conversation below using this rubric.

Rubric "{{ rubric_name }}": {{ instructions }}

Criteria (score each on its scale):
{% for c in criteria %}
- {{ c.name }}: {{ c.description }}
{% for score, text in c.anchors %}
    {{ score }} = {{ text }}
{% endfor %}
{% endfor %}

{{ conversation }}

{{ response }}
{% if reference %}

A reference answer, for comparison (it may not be the only correct answer):
{{ reference }}
{% endif %}
""",
    "pairwise": """Compare two assistant responses to the conversation below using this rubric, and decide which is better overall.

Rubric "{{ rubric_name }}": {{ instructions }}

Criteria to weigh:
{% for c in criteria %}
- {{ c.name }}: {{ c.description }}
{% endfor %}

{{ conversation }}

Response A:
{{ response_a }}

Response B:
{{ response_b }}
{% if reference %}

A reference answer, for comparison (it may not be the only correct answer):
{{ reference }}
{% endif %}

Answer "A" if response A is better, "B" if response B is better, "tie" if they are equally good.
""",
}


def _context(rubric_name: str, instructions: str, criteria: list[dict[str, Any]], *, conversation: str, response: str,
             response_a: str, response_b: str, reference: str) -> dict[str, Any]:
    """The template's variables; the texts are already wrapped (or "" when absent) by the caller."""
    return {
        "rubric_name": rubric_name,
        "instructions": instructions,
        "criteria": criteria,
        "conversation": conversation,
        "response": response,
        "response_a": response_a,
        "response_b": response_b,
        "reference": reference,
    }


def _criteria_ctx(criteria: Iterable[Criterion]) -> list[dict[str, Any]]:
    return [
        {"name": c.name, "description": c.description, "anchors": sorted(c.anchors.items()), "weight": c.weight}
        for c in criteria
    ]


def render_template(source: str, context: dict[str, Any]) -> str:
    try:
        template = _compiled(source)  # compiling is not the render's: the first use must not spend its budget on it
        with budget.rendering():
            return template.render(**context)
    except BudgetExceeded as e:
        raise InvalidInput(f"template exceeds its budget: {e}", field="templates") from None
    except SecurityError as e:
        raise InvalidInput(f"template refused by the sandbox: {e}", field="templates") from None
    except TemplateError as e:
        raise InvalidInput(f"template does not render: {e}", field="templates") from None
    except Exception as e:  # noqa: BLE001 - untrusted: {% include %} without a loader (TypeError), a range over the sandbox's MAX_RANGE (OverflowError), ...
        raise InvalidInput(f"template does not render: {type(e).__name__}: {e}", field="templates") from None


def check_templates(name: str, instructions: str, criteria: Iterable[Criterion], templates: dict[str, str],
                    modes: Iterable[str]) -> None:
    """Test-render every template of a rubric under the render budget with worst-case inputs (texts as long
    as a request may send); raises InvalidInput naming the construct if any fails."""
    for mode in modes:
        source = templates.get(mode, DEFAULT_TEMPLATES[mode])
        ctx = _context(name, instructions, _criteria_ctx(criteria),
                       conversation=f"<conversation>\n{_WORST_TEXT}\n</conversation>",
                       response=f"<response>\n{_WORST_TEXT}\n</response>",
                       response_a=f"<response_a>\n{_WORST_TEXT}\n</response_a>",
                       response_b=f"<response_b>\n{_WORST_TEXT}\n</response_b>",
                       reference=f"<reference>\n{_WORST_TEXT}\n</reference>")
        try:
            render_template(source, ctx)
        except InvalidInput as e:
            raise InvalidInput(f"rubric '{name}' {mode} template: {e.message}", field="templates") from None


def render_rubric(rubric: Rubric, mode: str, *, conversation: str, response: str = "", response_a: str = "",
                  response_b: str = "", reference: str = "") -> str:
    """The rubric's template for ``mode`` rendered over already-wrapped texts ("" = absent).

    A rubric stored before templates had a budget may exceed it: that is this request's 422 naming
    the rubric, never a 500 or a stalled process.
    """
    source = rubric.templates.get(mode, DEFAULT_TEMPLATES[mode])
    ctx = _context(rubric.name, rubric.instructions, _criteria_ctx(rubric.criteria), conversation=conversation,
                   response=response, response_a=response_a, response_b=response_b, reference=reference)
    try:
        return render_template(source, ctx)
    except InvalidInput as e:
        raise InvalidInput(f"rubric {rubric.ref} cannot be used: its {mode} template {e.message.removeprefix('template ')}; "
                           f"add a fixed version with POST /v1/rubrics", field="rubric") from None
