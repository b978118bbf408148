"""How fast the web UI is on a 500-item run: the JSON routes its pages read (median of repeated
calls) and, with Debian's chromium installed, each page's time until its content is drawn.

A 500-item pairwise run with three scripted judges is made first (both orders: 3,000 judge calls).
Run: PYTHONPATH=.:clients/python:tests python benchmarks/ui_reader.py [--items 500]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from conftest import SCRIPTED_JUDGES, write_config
from judge_service.app import create_app
from judge_service.settings import REPO_RUBRICS, Settings
from test_client import serve


def _items(n: int) -> list[dict[str, object]]:
    return [{"id": f"q{i}", "prompt": f"Question {i}: explain topic {i % 37} with an example.",
             "outputs": {"base": f"A short answer {i}. " * (1 + i % 4), "tuned": f"A longer, worked answer to {i}. " * (1 + i % 7)}}
            for i in range(n)]


def median_ms(http: httpx.Client, path: str, repeat: int = 15) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = http.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=500)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    settings = Settings(data_dir=tmp / "data", config=write_config(tmp / "judges.yaml", SCRIPTED_JUDGES),
                        rubrics_dirs=[REPO_RUBRICS], log_json=False, run_item_concurrency=32)
    with serve(create_app(settings)) as url, httpx.Client(base_url=url, timeout=120) as http:
        t0 = time.perf_counter()
        run = http.post("/v1/runs", json={"rubric": "helpfulness", "judges": ["longer", "text-longer", "first"],
                                          "baseline": "base", "candidate": "tuned", "items": _items(args.items)}).json()
        while http.get(f"/v1/runs/{run['id']}").json()["status"] not in ("done", "failed"):
            time.sleep(0.2)
        print(f"{args.items}-item run judged in {time.perf_counter() - t0:.1f} s (3 scripted judges, both orders)")
        rid = run["id"]
        for label, path in (("runs list", "/v1/reader/runs"), ("report", f"/v1/runs/{rid}/report"),
                            ("points (all items)", f"/v1/reader/runs/{rid}/points"),
                            ("reader page, all", f"/v1/reader/runs/{rid}/items"),
                            ("reader page, last page", f"/v1/reader/runs/{rid}/items?offset={args.items - 20}"),
                            ("reader, judges_disagree", f"/v1/reader/runs/{rid}/items?filter=judges_disagree"),
                            ("reader, longest", f"/v1/reader/runs/{rid}/items?filter=longest"),
                            ("reader, search", f"/v1/reader/runs/{rid}/items?q=topic+12")):
            print(f"  GET {label:<26} median {median_ms(http, path):7.1f} ms")
        chromium = shutil.which("chromium")
        if not chromium:
            print("chromium not installed: page timings skipped (apt-get install chromium)")
            return
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
            page = browser.new_page()
            for label, path, ready in (("run report", f"run.html#id={rid}", "#fig-length circle"),
                                       ("reader", f"items.html#run={rid}", "article.item"),
                                       ("runs list", "", "#runs")):
                times = []
                for _ in range(5):
                    page.goto("about:blank")
                    t0 = time.perf_counter()
                    page.goto(f"{url}/ui/{path}")
                    page.locator(ready).first.wait_for()
                    times.append((time.perf_counter() - t0) * 1000)
                print(f"  page {label:<12} drawn in median {statistics.median(times):7.1f} ms (chromium, headless)")
            browser.close()


if __name__ == "__main__":
    main()
