"""Rendering a rubric into judge messages, in a Jinja2 sandbox.

Templates come from files and from the API, so they are untrusted: the immutable sandbox refuses
attribute access to Python internals, and every template is test-rendered when loaded so a bad
one is refused up front rather than at the first verdict.

This module knows templates only. The texts under judgment arrive already wrapped in their data
tags, and the answer instructions are appended, by ``engine/prompts.py``: ``rubrics/`` imports
nothing from ``engine/``, so the line between "what a rubric says" and "how a judge is asked" is
one import direction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from judge_service.errors import InvalidInput

if TYPE_CHECKING:
    from judge_service.rubrics.model import Criterion, Rubric

# A template may build strings and numbers, but not big ones: `'x' * 10**10` would exhaust memory
# long before any output limit could catch it, so the operators themselves are capped.
MAX_PRODUCT_LEN = 100_000
MAX_EXPONENT = 100


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"exponent {right} is larger than {MAX_EXPONENT}")
        elif operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and len(seq) * times > MAX_PRODUCT_LEN:
                    raise SecurityError(f"repeating a sequence to more than {MAX_PRODUCT_LEN} items is not allowed")
        return super().call_binop(context, operator, left, right)


_ENV = _BoundedSandbox(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)

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
        return _ENV.from_string(source).render(**context)
    except SecurityError as e:
        raise InvalidInput(f"template refused by the sandbox: {e}", field="templates") from None
    except TemplateError as e:
        raise InvalidInput(f"template does not render: {e}", field="templates") from None
    except Exception as e:  # noqa: BLE001 - untrusted: {% include %} without a loader (TypeError), a range over the sandbox's MAX_RANGE (OverflowError), ...
        raise InvalidInput(f"template does not render: {type(e).__name__}: {e}", field="templates") from None


def check_templates(name: str, instructions: str, criteria: Iterable[Criterion], templates: dict[str, str],
                    modes: Iterable[str]) -> None:
    """Test-render every template of a rubric with sample data; raises InvalidInput if any fails."""
    for mode in modes:
        source = templates.get(mode, DEFAULT_TEMPLATES[mode])
        ctx = _context(name, instructions, _criteria_ctx(criteria), conversation="<conversation>\nq\n</conversation>",
                       response="<response>\nr\n</response>", response_a="<response_a>\na\n</response_a>",
                       response_b="<response_b>\nb\n</response_b>", reference="<reference>\nref\n</reference>")
        render_template(source, ctx)


def render_rubric(rubric: Rubric, mode: str, *, conversation: str, response: str = "", response_a: str = "",
                  response_b: str = "", reference: str = "") -> str:
    """The rubric's template for ``mode`` rendered over already-wrapped texts ("" = absent)."""
    source = rubric.templates.get(mode, DEFAULT_TEMPLATES[mode])
    ctx = _context(rubric.name, rubric.instructions, _criteria_ctx(rubric.criteria), conversation=conversation,
                   response=response, response_a=response_a, response_b=response_b, reference=reference)
    return render_template(source, ctx)
