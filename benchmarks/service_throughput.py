"""End to end: comparisons through the HTTP service against the fake judge server, beside the provider layer alone.

    .venv/bin/python benchmarks/service_throughput.py [--latency 0.1] [--concurrency 64] [--comparisons 1280]
                                                       [--cached-concurrency 64] [--healthz-inflight 200]
                                                       [--replicas N --database-url postgresql+psycopg://...] [--profile]

Three processes: the fake judge server (--latency per reply), the service (`judge serve`, one process,
SQLite under a temporary data dir, one openai_compatible judge with max_concurrency = --concurrency),
and this script, which drives the load with aiohttp. Measured in the same run:

  provider layer   limited(OpenAIProvider) alone at --concurrency calls on the wire, as
                   remote_throughput.py does: comparisons/s (2 calls each, orders AB and BA);
  uncached HTTP    --comparisons distinct POST /v1/comparisons, --concurrency in flight: comparisons/s,
                   its ratio to the provider layer (target >= 0.7), p50/p99 latency;
  cached HTTP      the same comparisons again (every judge call replayed from the cache), at
                   --cached-concurrency in flight: comparisons/s (target >= 500) and latency;
  /healthz         p99 while --healthz-inflight uncached comparisons are in flight (target < 100 ms).

--replicas N starts N service processes on one database (--database-url; PostgreSQL for real
scale-out) and sends the requests round-robin, as a load balancer would; the judge's limit is per
process, so N replicas put up to N x --concurrency calls on the wire. --profile writes a cProfile of
the first service's event loop (thread CPU time) and prints its top functions.

The machine's cores are shared by the three processes (and whatever else runs): the load generator's
own CPU is not free, so on 2 cores the HTTP figures are a floor. The header prints the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from remote_throughput import KEY_ENV, run_level, server_cpu_s  # noqa: E402


def start_fake(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "judge_service.testing.fake_server", "--latency", str(latency),
                             "--policy", "prefer_longer", "--stop-on-stdin-eof"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
                            env=os.environ | {"PYTHONPATH": str(REPO)})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("FAKE_JUDGE_SERVER "):
        raise SystemExit(f"fake server did not start: {line!r}")
    return proc, line.split()[1] + "/v1"


def start_service(base_url: str, concurrency: int, workdir: Path, port: int, profile: Path | None,
                  database_url: str | None = None) -> subprocess.Popen[bytes]:
    config = workdir / "judges.yaml"
    config.write_text(yaml.safe_dump({"judges": [{
        "name": "bench", "provider": "openai_compatible", "base_url": base_url, "model": "fake-judge-1",
        "family": "f1", "api_key_env": KEY_ENV, "max_concurrency": concurrency, "timeout_s": 30}],
        "default_panel": ["bench"]}))
    env = os.environ | {"PYTHONPATH": str(REPO), "JUDGE_CONFIG": str(config), "JUDGE_DATA_DIR": str(workdir / "data"),
                        "JUDGE_MAX_TEXT_CHARS": "100000"} | ({"JUDGE_DATABASE_URL": database_url} if database_url else {})
    log = open(workdir / f"service-{port}.log", "wb")
    code = "from judge_service.cli import app; app()"
    if profile is not None:  # the event loop's thread, written when the service stops
        code = (f"import atexit, cProfile; import time; p = cProfile.Profile(time.thread_time); p.enable(); "
                f"atexit.register(lambda: (p.disable(), p.dump_stats({str(profile)!r}))); " + code)
    return subprocess.Popen([sys.executable, "-c", code, "serve", "--port", str(port),
                             "--log-level", "warning"], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def body(i: int) -> bytes:
    return json.dumps({"rubric": "helpfulness", "prompt": f"Question {i}: what is the capital of France?",
                       "response_a": f"Answer {i}: Paris is the capital of France.",
                       "response_b": f"Answer {i}: The capital of France is Paris, its largest city, on the Seine.",
                       "judges": ["bench"]}).encode()


async def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"service exited with {proc.returncode}")
            try:
                async with s.get(f"{url}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("service not ready")


async def drive(urls: list[str], ids: list[int], concurrency: int, *, healthz: bool = False) -> dict[str, object]:
    """POST one comparison per id with ``concurrency`` in flight, round-robin over ``urls`` (the replicas,
    as a load balancer would); optionally poll the first one's /healthz meanwhile."""
    url = urls[0]
    latencies: list[float] = []
    health: list[float] = []
    statuses: dict[int, int] = {}
    queue = list(reversed(ids))
    connector = aiohttp.TCPConnector(limit=concurrency + 4)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as s:
        headers = {"content-type": "application/json"}

        async def worker() -> None:
            while queue:
                i = queue.pop()
                t0 = time.perf_counter()
                async with s.post(f"{urls[i % len(urls)]}/v1/comparisons", data=body(i), headers=headers) as r:
                    await r.read()
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                latencies.append(time.perf_counter() - t0)

        done = asyncio.Event()

        async def poll_health() -> None:
            async with aiohttp.ClientSession() as hs:  # its own connection, as a load balancer's probe
                while not done.is_set():
                    t0 = time.perf_counter()
                    async with hs.get(f"{url}/healthz") as r:
                        await r.read()
                    health.append(time.perf_counter() - t0)
                    await asyncio.sleep(0.02)

        prober = asyncio.ensure_future(poll_health()) if healthz else None
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
        done.set()
        if prober is not None:
            await prober
    latencies.sort()
    health.sort()

    def pct(xs: list[float], q: float) -> float:
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")

    return {"n": len(ids), "wall_s": wall, "rate": len(ids) / wall, "p50_ms": pct(latencies, 0.5),
            "p99_ms": pct(latencies, 0.99), "statuses": statuses, "health_p50_ms": pct(health, 0.5),
            "health_p99_ms": pct(health, 0.99), "health_max_ms": max(health) * 1000 if health else float("nan"),
            "health_n": len(health)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--comparisons", type=int, default=1280)
    ap.add_argument("--cached-concurrency", type=int, default=64)
    ap.add_argument("--healthz-inflight", type=int, default=200)
    ap.add_argument("--replicas", type=int, default=1, help="service processes on one database, requests round-robin")
    ap.add_argument("--database-url", default=None,
                    help="e.g. postgresql+psycopg://judge@127.0.0.1:5432/judge (default: a SQLite file, shared by the replicas)")
    ap.add_argument("--profile", action="store_true", help="cProfile the service's event loop; print its top functions")
    args = ap.parse_args()
    os.environ[KEY_ENV] = "sk-bench-not-a-real-key"
    c = args.concurrency

    fake, base_url = start_fake(args.latency)
    workdir = Path(tempfile.mkdtemp(prefix="service-throughput-"))
    ports = [free_port() for _ in range(args.replicas)]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    profile = workdir / "service.prof" if args.profile else None
    services = [start_service(base_url, c, workdir, p, profile if k == 0 else None, args.database_url)
                for k, p in enumerate(ports)]
    try:
        print(f"fake server at {base_url}, latency {args.latency * 1000:.0f} ms; {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}; {args.replicas} service process(es) on "
              f"{'PostgreSQL' if (args.database_url or '').startswith('postgresql') else 'SQLite'}; logs in {workdir}")
        provider = asyncio.run(run_level(base_url, c, args.comparisons, raw=False, backend="auto"))
        provider_rate = provider["calls"] / provider["wall_s"] / 2
        provider_cpu_ms = 1000 * provider["cpu_s"] / args.comparisons
        ideal = c / args.latency / 2
        print(f"provider layer, {c} calls on the wire: {provider_rate:.0f} comparisons/s "
              f"({provider_rate / ideal:.2f} of ideal {ideal:.0f}/s); {provider_cpu_ms:.2f} CPU ms per comparison")

        for u, proc in zip(urls, services):
            asyncio.run(wait_ready(u, proc))
        asyncio.run(drive(urls, [-1 - i for i in range(c)], c))  # warm-up: connections, first-use work
        # The service's CPU per comparison (all its threads: loop, database pool, writer) does not
        # depend on what else the machine runs; 1000 / it is what one process can do on a free core.
        cpu0 = sum(server_cpu_s(p.pid) for p in services)
        uncached = asyncio.run(drive(urls, list(range(args.comparisons)), c))
        uncached_cpu_ms = 1000 * (sum(server_cpu_s(p.pid) for p in services) - cpu0) / args.comparisons
        print(f"uncached HTTP, {c} in flight: {uncached['rate']:.0f} comparisons/s, ratio to the provider layer "
              f"{uncached['rate'] / provider_rate:.2f} (target >= 0.7); p50 {uncached['p50_ms']:.0f} ms, "
              f"p99 {uncached['p99_ms']:.0f} ms; service {uncached_cpu_ms:.2f} CPU ms per comparison "
              f"(provider layer alone {provider_cpu_ms:.2f}); statuses {uncached['statuses']}")
        cpu0 = sum(server_cpu_s(p.pid) for p in services)
        cached = asyncio.run(drive(urls, list(range(args.comparisons)), args.cached_concurrency))
        cached_cpu_ms = 1000 * (sum(server_cpu_s(p.pid) for p in services) - cpu0) / args.comparisons
        print(f"cached HTTP, {args.cached_concurrency} in flight: {cached['rate']:.0f} comparisons/s (target >= 500); "
              f"p50 {cached['p50_ms']:.1f} ms, p99 {cached['p99_ms']:.1f} ms; service {cached_cpu_ms:.2f} CPU ms per "
              f"comparison (at most {1000 / cached_cpu_ms:.0f}/s on one free core); statuses {cached['statuses']}")
        n = max(args.healthz_inflight * 4, 800)
        loaded = asyncio.run(drive(urls, list(range(10**6, 10**6 + n)), args.healthz_inflight, healthz=True))
        print(f"/healthz with {args.healthz_inflight} uncached comparisons in flight ({loaded['rate']:.0f} comparisons/s): "
              f"p50 {loaded['health_p50_ms']:.1f} ms, p99 {loaded['health_p99_ms']:.1f} ms (target < 100), "
              f"max {loaded['health_max_ms']:.0f} ms over {loaded['health_n']} probes; statuses {loaded['statuses']}")
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
    finally:
        # SIGINT, not SIGTERM: uvicorn re-raises the signal after its graceful stop, and only SIGINT's
        # default handler (KeyboardInterrupt) lets the profile's atexit hook run.
        for proc in services:
            proc.send_signal(signal.SIGINT)
        for proc in services:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        if profile is not None and profile.exists():
            import io
            import pstats

            out = io.StringIO()
            pstats.Stats(str(profile), stream=out).sort_stats("tottime").print_stats(30)
            print("\nservice event loop, by own time:\n" + "\n".join(out.getvalue().splitlines()[:50]))
            out = io.StringIO()
            pstats.Stats(str(profile), stream=out).sort_stats("cumulative").print_stats(40)
            print("\nby cumulative time:\n" + "\n".join(out.getvalue().splitlines()[:60]))
        assert fake.stdin is not None
        fake.stdin.close()
        try:
            fake.wait(10)
        except subprocess.TimeoutExpired:
            fake.kill()


if __name__ == "__main__":
    main()
