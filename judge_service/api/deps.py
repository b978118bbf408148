"""Dependencies shared by the routers, and small request checks that need the settings."""

from __future__ import annotations

from fastapi import Request

from judge_service.context import AppContext
from judge_service.errors import InvalidInput, PayloadTooLarge
from judge_service.judges.registry import Judge


def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx


def check_text_limits(ctx: AppContext, **texts: str | None) -> None:
    limit = ctx.settings.max_text_chars
    for name, text in texts.items():
        if text is not None and len(text) > limit:
            raise PayloadTooLarge(
                f"'{name}' is {len(text)} characters; the limit is {limit} (JUDGE_MAX_TEXT_CHARS)", field=name)


def resolve_judges(ctx: AppContext, names: list[str] | None) -> list[Judge]:
    names = names or ctx.judges.default_panel()
    if len(set(names)) != len(names):
        raise InvalidInput(f"'judges' lists a judge twice: {names}", field="judges")
    if len(names) > ctx.settings.max_judges_per_request:
        raise InvalidInput(
            f"{len(names)} judges requested; the limit is {ctx.settings.max_judges_per_request} (JUDGE_MAX_JUDGES_PER_REQUEST)",
            field="judges")
    return [ctx.judges.get(n) for n in names]


def check_samples(ctx: AppContext, samples: int) -> None:
    if samples > ctx.settings.max_samples:
        raise InvalidInput(f"samples={samples} exceeds the limit of {ctx.settings.max_samples} (JUDGE_MAX_SAMPLES)",
                           field="samples")
