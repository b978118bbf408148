"""Throughput of remote judging: limited(OpenAIProvider) against the fake judge server.

    .venv/bin/python benchmarks/remote_throughput.py [--latency 0.1] [--rounds 20] [--levels 32,64,128,256]
                                                      [--backend auto|aiohttp|httpx] [--raw] [--profile 32]

N pairwise comparisons (each = 2 calls, orders AB and BA) per concurrency level, the fake server
answering every call after a fixed latency. The server runs in a separate PROCESS so that the
client's CPU time (time.process_time) counts only our side: SDK, HTTP stack, limits, parsing.

Ideal throughput = concurrency / latency (every slot always busy). Prints achieved calls/s, the
ratio to ideal, client CPU ms per call, the client's CPU utilisation (CPU s / wall s: near 100%
means the client's one event-loop thread is the bottleneck; well below 100% with a low ratio means
the process did not get the CPU, e.g. other processes on the machine) and the server's CPU per
call (from /proc, to show whether the server was the bottleneck). --backend is the provider's
options.http_backend (the SDK's HTTP transport; "auto" = aiohttp when installed); the header says
which one ran. --raw also measures the bare SDK call without our wrapper; --profile C prints the top
client functions (cProfile) at concurrency C.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from judge_service.engine.prompts import SYSTEM_PROMPT, answer_instructions, output_schema, wrap  # noqa: E402
from judge_service.judges.base import AnswerField, ChatMessage, JudgeRequest  # noqa: E402
from judge_service.judges.config import JudgeSpec  # noqa: E402
from judge_service.judges.limits import limited  # noqa: E402
from judge_service.judges.openai import OpenAIProvider  # noqa: E402

WINNER = AnswerField("winner", ("A", "B", "tie"))
KEY_ENV = "BENCH_FAKE_KEY"


def comparison_requests(i: int) -> tuple[JudgeRequest, JudgeRequest]:
    a = f"Answer {i}: Paris is the capital of France."
    b = f"Answer {i}: The capital of France is Paris, its largest city, on the Seine."
    out = []
    for first, second in ((a, b), (b, a)):
        prompt = (f"Question {i}: what is the capital of France?\n" + wrap("response_a", first) + "\n"
                  + wrap("response_b", second) + "\n" + answer_instructions((WINNER,)))
        out.append(JudgeRequest(messages=(ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", prompt)),
                                fields=(WINNER,), output_schema=output_schema((WINNER,)), max_tokens=128, seed=i))
    return out[0], out[1]


def server_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_level(base_url: str, concurrency: int, n_comparisons: int, raw: bool, backend: str) -> dict:
    spec = JudgeSpec(name="bench", provider="openai", model="gpt-fake", base_url=base_url, api_key_env=KEY_ENV,
                     max_concurrency=concurrency, timeout_s=30, options={"http_backend": backend})
    provider = OpenAIProvider(spec)
    judge = limited(provider, spec)
    if raw:
        # The bare SDK call, concurrency held by a plain semaphore: what our wrapper adds on top.
        sem = asyncio.Semaphore(concurrency)

        async def one(req: JudgeRequest):
            async with sem:
                return await provider.complete(req)
    else:
        one = judge.complete

    async def compare(i: int):
        ab, ba = comparison_requests(i)
        return await asyncio.gather(one(ab), one(ba))

    # Warm-up: open the connections and fill caches; not measured.
    await asyncio.gather(*[compare(-1 - i) for i in range(concurrency // 2)])
    reqs = range(n_comparisons)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    results = await asyncio.gather(*[compare(i) for i in reqs])
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    await judge.aclose()
    calls = 2 * n_comparisons
    assert all(r.structured and r.structured.get("winner") in ("A", "B", "tie") for pair in results for r in pair)
    return {"calls": calls, "wall_s": wall, "cpu_s": cpu, "retries": judge.stats.retries if not raw else 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--rounds", type=int, default=20, help="calls per level = rounds x concurrency")
    ap.add_argument("--levels", default="32,64,128,256")
    ap.add_argument("--backend", choices=("auto", "aiohttp", "httpx"), default="auto",
                    help="the provider's options.http_backend (default auto: aiohttp when installed)")
    ap.add_argument("--raw", action="store_true", help="also measure the bare SDK call without limits/retries")
    ap.add_argument("--profile", type=int, default=0, help="cProfile the client at this concurrency")
    args = ap.parse_args()
    os.environ[KEY_ENV] = "sk-bench-not-a-real-key"

    proc = subprocess.Popen([sys.executable, "-m", "judge_service.testing.fake_server", "--latency", str(args.latency),
                             "--policy", "prefer_longer"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    try:
        line = proc.stdout.readline()
        if not line.startswith("FAKE_JUDGE_SERVER "):
            raise SystemExit(f"fake server did not start: {line!r}")
        base_url = line.split()[1] + "/v1"
        print(f"fake server pid {proc.pid} at {base_url}, latency {args.latency * 1000:.0f} ms; "
              f"client python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
              "(other processes on the machine compete for the CPUs: ratios below 1 can be theirs)")
        used = OpenAIProvider(JudgeSpec(name="bench", provider="openai", model="gpt-fake", base_url=base_url,
                                        api_key_env=KEY_ENV, options={"http_backend": args.backend})).http_backend
        print(f"http backend: {used} (--backend {args.backend}; openai {openai.__version__})")
        print(f"{'mode':<8}{'conc':>5}{'calls':>7}{'wall s':>8}{'calls/s':>9}{'ideal':>7}{'ratio':>7}"
              f"{'client CPU ms/call':>20}{'client CPU util':>17}{'server CPU ms/call':>20}")
        modes = ["limited"] + (["raw"] if args.raw else [])
        for c in [int(x) for x in args.levels.split(",")]:
            for mode in modes:
                n = max(1, args.rounds * c // 2)
                s0 = server_cpu_s(proc.pid)
                r = asyncio.run(run_level(base_url, c, n, raw=(mode == "raw"), backend=args.backend))
                s1 = server_cpu_s(proc.pid)
                ideal = c / args.latency
                rate = r["calls"] / r["wall_s"]
                # Server CPU covers warm-up calls too; divide by all calls it served in this level.
                served = r["calls"] + 2 * (c // 2)
                print(f"{mode:<8}{c:>5}{r['calls']:>7}{r['wall_s']:>8.2f}{rate:>9.0f}{ideal:>7.0f}{rate / ideal:>7.2f}"
                      f"{1000 * r['cpu_s'] / r['calls']:>20.3f}{r['cpu_s'] / r['wall_s']:>17.0%}"
                      f"{1000 * (s1 - s0) / served:>20.3f}")
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            asyncio.run(run_level(base_url, args.profile, args.rounds * args.profile // 2, raw=False, backend=args.backend))
            prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
            print(f"\nclient profile at concurrency {args.profile} (by own time):")
            print("\n".join(out.getvalue().splitlines()[:45]))
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
    finally:
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
