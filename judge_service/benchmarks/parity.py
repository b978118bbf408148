"""The parity check: did both arms see the same documents, prompts settings and templates?

Field-by-field, per task. ``error`` findings make the comparison invalid (different documents or
targets) and the service refuses it; ``mismatch`` findings (versions, n-shot, seeds, templates,
generation kwargs, limit) are listed and flag the comparison; ``warning`` findings (a differing
``prompt_hash``: the chat template changes prompts, which a base-vs-instruct comparison may intend)
name what differs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from judge_service.benchmarks.model import BenchmarkRun

RUN_FIELDS = ("fewshot_seed", "chat_template_sha", "system_instruction_sha", "fewshot_as_multiturn", "limit",
              "gen_kwargs", "num_fewshot_seeds")


@dataclass(frozen=True)
class Finding:
    field: str
    severity: str  # "error" | "mismatch" | "warning"
    message: str
    task: str | None = None
    base: Any = None
    tuned: Any = None


@dataclass
class Parity:
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity in ("error", "mismatch") for f in self.findings)

    @property
    def valid(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)


def check(base: BenchmarkRun, tuned: BenchmarkRun, tasks: list[str]) -> Parity:
    parity = Parity()
    add = parity.findings.append
    for name in RUN_FIELDS:
        a, b = base.settings.get(name), tuned.settings.get(name)
        if a != b:
            add(Finding(name, "mismatch", f"{name} differs: {a!r} in {base.label}, {b!r} in {tuned.label}",
                        base=a, tuned=b))
    for task in tasks:
        ta, tb = base.tasks.get(task), tuned.tasks.get(task)
        if ta is None or tb is None:
            continue
        for name, a, b in (("version", ta.version, tb.version), ("n_shot", ta.n_shot, tb.n_shot)):
            if str(a) != str(b):  # lm-eval writes versions as "0" or 0 in one file
                add(Finding(name, "mismatch", f"task '{task}': {name} {a!r} vs {b!r}", task, a, b))
        if ta.n_effective is not None and tb.n_effective is not None and ta.n_effective != tb.n_effective:
            add(Finding("n_samples.effective", "error",
                        f"task '{task}' was scored on {ta.n_effective} docs in {base.label} and {tb.n_effective} in "
                        f"{tuned.label}: not the same documents; rerun with the same --limit", task,
                        ta.n_effective, tb.n_effective))
        if ta.task_hash and tb.task_hash and ta.task_hash != tb.task_hash:
            add(Finding("task_hash", "warning", f"task '{task}': task hashes differ (the logged docs, prompts or "
                        "targets differ; the per-doc check below says which)", task, ta.task_hash, tb.task_hash))
    for key in sorted(set(base.samples) & set(tuned.samples)):
        if key[0] not in tasks:
            continue
        _check_docs(parity, key, base, tuned)
    return parity


def _check_docs(parity: Parity, key: tuple[str, str], base: BenchmarkRun, tuned: BenchmarkRun) -> None:
    task = key[0]
    a, b = base.samples[key], tuned.samples[key]
    only = sorted(set(a) ^ set(b))
    if only:
        parity.findings.append(Finding("doc_id", "error", f"task '{task}': {len(only)} doc ids are in one arm's "
                                       f"samples only (first: {only[:5]}); both arms must score the same docs", task))
    shared = sorted(set(a) & set(b))
    for name in ("doc_hash", "target_hash"):
        bad = [d for d in shared if getattr(a[d], name) and getattr(b[d], name)
               and getattr(a[d], name) != getattr(b[d], name)]
        if bad:
            parity.findings.append(Finding(name, "error", f"task '{task}': {name} differs on {len(bad)} of "
                                           f"{len(shared)} docs (first doc ids: {bad[:5]}): different documents", task))
    prompts = [d for d in shared if a[d].prompt_hash and b[d].prompt_hash and a[d].prompt_hash != b[d].prompt_hash]
    if prompts:
        parity.findings.append(Finding("prompt_hash", "warning", f"task '{task}': prompt_hash differs on "
                                       f"{len(prompts)} of {len(shared)} docs (first doc ids: {prompts[:5]}); the "
                                       "chat template, system prompt or few-shot examples differ", task))
