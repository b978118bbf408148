"""A checkpoint sweep: ask the judges whether the checkpoint the loss picks is the one people would.

Eval loss can rise while outputs get better (InstructGPT reported exactly that), so the loss's best
checkpoint is a hypothesis, not an answer. A sweep takes the checkpoints the analysis names —
best by loss, the earliest equivalent to it, and the last — and judges each against the base model
on the same prompts (one run per checkpoint, through the runs API's one path). Its summary puts
each checkpoint's win rate beside its loss and says whether the judges and the loss agree; it never
calls a checkpoint better than another unless their intervals are apart.

Pure functions here; the HTTP edge is ``api/training.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from judge_service.errors import InvalidInput

ROLES = ("best_by_loss", "earliest_equivalent", "last")


@dataclass(frozen=True)
class SweepTarget:
    step: int
    roles: tuple[str, ...]
    system: str  # the name of this checkpoint's outputs in the items


def system_name(template: str, step: int) -> str:
    if "{step}" not in template:
        raise InvalidInput(f"checkpoint_name must contain '{{step}}' (e.g. 'checkpoint-{{step}}'); got {template!r}",
                           field="checkpoint_name")
    return template.replace("{step}", str(step))


def targets(result: dict[str, Any], template: str) -> list[SweepTarget]:
    """The checkpoints to judge, each once, in step order, with every role it plays."""
    primary = result.get("primary")
    if not primary or primary.get("best_step") is None:
        raise InvalidInput(f"this analysis has no eval curve to pick checkpoints from (verdict "
                           f"'{result.get('verdict')}'); log an eval metric (eval_strategy='steps') and analyse again",
                           field="id")
    steps = {"best_by_loss": primary["best_step"], "earliest_equivalent": primary.get("earliest_equivalent_step"),
             "last": primary.get("last_step")}
    by_step: dict[int, list[str]] = {}
    for role in ROLES:
        step = steps[role]
        if step is not None:
            by_step.setdefault(int(step), []).append(role)
    return [SweepTarget(step, tuple(roles), system_name(template, step)) for step, roles in sorted(by_step.items())]


def check_outputs(items: list[dict[str, Any]], baseline: str, wanted: list[SweepTarget]) -> None:
    """Every item needs the base model's output and each swept checkpoint's: say which are missing."""
    needed = [baseline] + [t.system for t in wanted]
    for i, item in enumerate(items):
        outputs = item.get("outputs") or {}
        missing = [name for name in needed if name not in outputs]
        if missing:
            roles = {t.system: "/".join(t.roles) for t in wanted}
            named = ", ".join(f"'{m}'" + (f" ({roles[m]})" if m in roles else " (the baseline)") for m in missing)
            raise InvalidInput(f"item '{item.get('id', i)}' has no output for {named}; generate each swept checkpoint's "
                               f"answers on the same prompts (outputs keyed by checkpoint_name)", field=f"items.{i}.outputs")


def project(item: dict[str, Any], baseline: str, system: str) -> dict[str, Any]:
    """One run's view of an item: only the two systems it compares."""
    keep = {baseline, system}
    out = dict(item)
    out["outputs"] = {k: v for k, v in (item.get("outputs") or {}).items() if k in keep}
    if item.get("metadata"):
        out["metadata"] = {k: v for k, v in item["metadata"].items() if k in keep}
    return out


def _apart(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """a's interval lies above b's."""
    return a.get("ci_low") is not None and b.get("ci_high") is not None and a["ci_low"] > b["ci_high"]


def summary(checkpoints: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether the judges pick the loss's checkpoint, from each checkpoint's win rate against base.

    ``checkpoints``: one dict per swept checkpoint with ``step``, ``roles``, ``status`` and, when
    its run is done, ``win_rate`` (estimate, ci_low, ci_high, n).
    """
    done = [c for c in checkpoints if c.get("win_rate") and c["win_rate"].get("estimate") is not None]
    if len(done) < len(checkpoints):
        waiting = [c["system"] for c in checkpoints if c not in done]
        return {"agreement": "pending", "statement": f"waiting for the runs of {', '.join(waiting)}"}
    loss_best = next(c for c in checkpoints if "best_by_loss" in c["roles"])
    top = max(done, key=lambda c: c["win_rate"]["estimate"])
    beaten_by = [c for c in done if c is not loss_best and _apart(c["win_rate"], loss_best["win_rate"])]
    if beaten_by:
        best_other = max(beaten_by, key=lambda c: c["win_rate"]["estimate"])
        w, lw = best_other["win_rate"], loss_best["win_rate"]
        return {"agreement": "disagree", "judges_prefer": best_other["system"],
                "statement": (f"the judges prefer {best_other['system']} (win rate vs base {w['estimate']:.3f} "
                              f"[{w['ci_low']:.3f}, {w['ci_high']:.3f}], n={w['n']}) over the loss's best "
                              f"{loss_best['system']} ({lw['estimate']:.3f} [{lw['ci_low']:.3f}, {lw['ci_high']:.3f}], "
                              f"n={lw['n']}), intervals apart: eval loss and judged quality disagree; choose by the "
                              "quality you ship")}
    if all(c is loss_best or _apart(loss_best["win_rate"], c["win_rate"]) for c in done):
        return {"agreement": "agree", "judges_prefer": loss_best["system"],
                "statement": f"the judges agree with the loss: {loss_best['system']} wins most often against base, "
                             "its interval above every other swept checkpoint's"}
    return {"agreement": "cannot_tell", "judges_prefer": None,
            "statement": f"the judges cannot tell the swept checkpoints apart (intervals overlap; highest point "
                         f"estimate {top['system']}): nothing contradicts the loss's pick {loss_best['system']}, "
                         "and nothing confirms it; more items narrow the intervals"}
