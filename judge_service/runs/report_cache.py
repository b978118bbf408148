"""Finished runs' reports, kept in memory: a report is recomputed from its rows (thousands of
bootstrap resamples, seconds on a 500-item run) and a finished run's rows no longer change.

Keyed on everything the report is made from besides the rows: the run's id and finish time, and
the calibration mapping and human agreement it reads (a calibration may finish after the run).
A process holds at most ``size`` reports; another replica computes its own.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any


class ReportCache:
    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._reports: OrderedDict[str, dict[str, Any]] = OrderedDict()

    @staticmethod
    def key(run_id: str, finished_at: object, *inputs: object) -> str:
        return json.dumps([run_id, str(finished_at), *inputs], sort_keys=True, default=str)

    def get(self, key: str) -> dict[str, Any] | None:
        report = self._reports.get(key)
        if report is not None:
            self._reports.move_to_end(key)
        return report

    def put(self, key: str, report: dict[str, Any]) -> None:
        self._reports[key] = report
        self._reports.move_to_end(key)
        while len(self._reports) > self.size:
            self._reports.popitem(last=False)
