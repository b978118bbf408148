"""Throughput of remote judging: limited(OpenAIProvider) against the fake judge server.

    .venv/bin/python benchmarks/remote_throughput.py [--latency 0.1] [--rounds 40] [--levels 32,64,128,256]
                                                      [--backend auto|direct|aiohttp|httpx] [--raw] [--profile 32] [--layers 32]

Per concurrency level C: rounds x C / 2 pairwise comparisons (each = 2 calls, orders AB and BA),
all submitted at once, as a batch script would; the limiter keeps C calls on the wire. The fake
server answers every call exactly --latency after the request arrived and runs in a separate
PROCESS, so the client's CPU time (time.process_time: user + kernel) counts only our side: SDK,
HTTP stack, limits, parsing (prompts are built before the clock starts).

Ideal throughput = C / latency (every slot always busy). Two figures per level:
  whole run     calls / wall time from the first submission to the last reply;
  steady state  the rate over the middle half of the replies. A fixed-latency server keeps calls
                that start together in lockstep: for the first rounds ~32 replies land at once and
                queue on the one event loop, until the spread grows to a full latency period.
                Real APIs' latency jitter breaks the lockstep at once; the steady figure is what a
                long run sees, the whole-run figure includes that synchronised start.
Also printed: client CPU ms per call (whole run, and its kernel part; and over the middle half),
the client's CPU utilisation (near 100% = the client's one event loop is the bottleneck, as at
256) and the server's CPU per call (from /proc, to show whether the server was the bottleneck).
The client runs as `judge serve` does (heap frozen after start-up, heap.py).

--backend is the provider's options.http_backend ("direct": aiohttp without the SDK's pipeline,
judges/openai_direct.py; "aiohttp" / "httpx": the SDK's client.post on that transport; "auto" =
direct when aiohttp is installed); the header says which one ran. --raw also measures the bare
SDK call without our wrapper; --profile C prints the top client functions (cProfile) at concurrency C; --layers C
prints the CPU per call of each layer alone (bare aiohttp, the SDK, our provider, the limiter).
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

from judge_service.heap import freeze_startup_heap  # noqa: E402
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

    marks: list[tuple[float, float]] = []  # (wall, client CPU) at each call's completion

    async def call(req: JudgeRequest):
        reply = await one(req)
        marks.append((time.perf_counter(), time.process_time()))
        return reply

    async def compare(pair: tuple[JudgeRequest, JudgeRequest]):
        return await asyncio.gather(call(pair[0]), call(pair[1]))

    # Warm-up: open the connections and fill caches; not measured.
    await asyncio.gather(*[compare(comparison_requests(-1 - i)) for i in range(concurrency // 2)])
    # The prompts are built before the clock starts: the figure is the cost of judge calls, not of
    # assembling prompts (the engine's rubric rendering, measured elsewhere).
    pairs = [comparison_requests(i) for i in range(n_comparisons)]
    freeze_startup_heap()  # as `judge serve` does once the app is built
    marks.clear()
    cpu0, sys0, wall0 = time.process_time(), os.times().system, time.perf_counter()
    results = await asyncio.gather(*[compare(pair) for pair in pairs])
    wall, cpu, sys_s = time.perf_counter() - wall0, time.process_time() - cpu0, os.times().system - sys0
    await judge.aclose()
    calls = 2 * n_comparisons
    assert all(r.structured and r.structured.get("winner") in ("A", "B", "tie") for pair in results for r in pair)
    # Steady state: the middle half of the completions, away from the synchronised start (all
    # calls sent at once, so they come back in lockstep for the first rounds) and the drain.
    lo, hi = calls // 4, 3 * calls // 4
    (t_lo, c_lo), (t_hi, c_hi) = marks[lo], marks[hi]
    return {"calls": calls, "wall_s": wall, "cpu_s": cpu, "sys_s": sys_s, "steady_rate": (hi - lo) / (t_hi - t_lo),
            "steady_cpu_s": (c_hi - c_lo) / (hi - lo)}


async def layer_costs(base_url: str, concurrency: int, n_calls: int, backend: str) -> list[tuple[str, float, float]]:
    """CPU ms per call and ratio to ideal for each layer alone, the same bodies at the same concurrency:
    bare aiohttp POST (no SDK), the SDK's client.post (what OpenAIProvider calls), the provider, and
    the provider behind limited(). The differences are what each layer costs."""
    import json

    import aiohttp
    import httpx2

    spec = JudgeSpec(name="bench", provider="openai", model="gpt-fake", base_url=base_url, api_key_env=KEY_ENV,
                     max_concurrency=concurrency, timeout_s=30, options={"http_backend": backend})
    provider = OpenAIProvider(spec)
    judge = limited(provider, spec)
    reqs = [r for i in range(n_calls // 2) for r in comparison_requests(i)]
    bodies = [json.dumps(provider._params(r, structured=True)).encode() for r in reqs]
    url = base_url + "/chat/completions"
    headers = {"authorization": f"Bearer {os.environ[KEY_ENV]}", "content-type": "application/json"}
    sdk = provider._client
    out = []
    async with aiohttp.ClientSession() as session:
        async def bare(body: bytes) -> dict:
            async with session.post(url, data=body, headers=headers) as r:
                return json.loads(await r.read())

        layers = [("aiohttp POST, no SDK", bare, bodies),
                  ("SDK client.post", lambda b: sdk.post("/chat/completions", content=b, cast_to=httpx2.Response), bodies),
                  ("OpenAIProvider", provider.complete, reqs),
                  ("limited(provider)", judge.complete, reqs)]
        if provider.http_backend == "direct":  # the SDK is not on this backend's path (its client here is a small httpx2 pool)
            del layers[1]
        for name, fn, items in layers:
            sem = asyncio.Semaphore(concurrency)

            async def one(x, fn=fn, sem=sem):
                async with sem:
                    return await fn(x)

            await asyncio.gather(*[one(x) for x in items[:concurrency]])  # warm-up: connections
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.gather(*[one(x) for x in items])
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            out.append((name, 1000 * cpu / len(items), len(items) / wall))
    await judge.aclose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--rounds", type=int, default=40, help="calls per level = rounds x concurrency")
    ap.add_argument("--levels", default="32,64,128,256")
    ap.add_argument("--backend", choices=("auto", "direct", "aiohttp", "httpx"), default="auto",
                    help="the provider's options.http_backend (default auto: direct when aiohttp is installed)")
    ap.add_argument("--raw", action="store_true", help="also measure the bare SDK call without limits/retries")
    ap.add_argument("--profile", type=int, default=0, help="cProfile the client at this concurrency")
    ap.add_argument("--layers", type=int, default=0, help="CPU per call of each layer alone at this concurrency")
    args = ap.parse_args()
    os.environ[KEY_ENV] = "sk-bench-not-a-real-key"

    proc = subprocess.Popen([sys.executable, "-m", "judge_service.testing.fake_server", "--latency", str(args.latency),
                             "--policy", "prefer_longer", "--stop-on-stdin-eof"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
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
        print(f"{'':<20}|{'whole run':^40}|{'steady state (middle half)':^30}|")
        print(f"{'mode':<8}{'conc':>5}{'calls':>7}|{'wall s':>7}{'calls/s':>9}{'ratio':>7}{'CPU ms/call':>12}{'(kernel)':>9}|"
              f"{'calls/s':>9}{'ratio':>7}{'CPU ms/call':>13} |{'ideal/s':>8}{'client util':>12}{'server CPU ms':>14}")
        modes = ["limited"] + (["raw"] if args.raw else [])
        for c in [int(x) for x in args.levels.split(",")]:
            for mode in modes:
                n = max(2, args.rounds * c // 2)
                s0 = server_cpu_s(proc.pid)
                r = asyncio.run(run_level(base_url, c, n, raw=(mode == "raw"), backend=args.backend))
                s1 = server_cpu_s(proc.pid)
                ideal = c / args.latency
                rate = r["calls"] / r["wall_s"]
                # Server CPU covers warm-up calls too; divide by all calls it served in this level.
                served = r["calls"] + 2 * (c // 2)
                print(f"{mode:<8}{c:>5}{r['calls']:>7}|{r['wall_s']:>7.2f}{rate:>9.0f}{rate / ideal:>7.2f}"
                      f"{1000 * r['cpu_s'] / r['calls']:>12.3f}{1000 * r['sys_s'] / r['calls']:>9.3f}|"
                      f"{r['steady_rate']:>9.0f}{r['steady_rate'] / ideal:>7.2f}{1000 * r['steady_cpu_s']:>13.3f} |"
                      f"{ideal:>8.0f}{r['cpu_s'] / r['wall_s']:>12.0%}{1000 * (s1 - s0) / served:>14.3f}")
        if args.layers:
            ideal = args.layers / args.latency
            print(f"\nlayers alone at concurrency {args.layers} ({args.rounds * args.layers} calls each):")
            for name, cpu_ms, rate in asyncio.run(layer_costs(base_url, args.layers, args.rounds * args.layers, args.backend)):
                print(f"  {name:<24}{cpu_ms:>7.3f} CPU ms/call{rate / ideal:>7.2f} of ideal")
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
