"""Hugging Face ``datasets`` files read from disk, without ``datasets`` and without the hub.

What ``datasets`` writes: ``Dataset.save_to_disk(dir)`` leaves ``state.json`` (its ``_data_files``
name the shards) and ``data-0000k-of-0000n.arrow`` shards in Arrow's IPC *stream* format;
``DatasetDict.save_to_disk`` leaves ``dataset_dict.json`` (``{"splits": [...]}``) and one such
folder per split; ``to_parquet`` writes one parquet file and ``to_json`` JSON Lines. pyarrow reads
all of them (``pip install pyarrow``; it is in the service's ``lighteval`` extra).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.ipc  # submodules pyarrow does not import by itself
        import pyarrow.parquet
    except ImportError:
        raise ValueError("reading parquet/arrow files needs pyarrow: pip install pyarrow") from None
    return pyarrow


def _arrow_rows(path: Path) -> list[dict[str, Any]]:
    pa = _pyarrow()
    with pa.memory_map(str(path)) as source:
        try:
            table = pa.ipc.open_stream(source).read_all()  # what datasets' ArrowWriter writes
        except pa.ArrowInvalid:
            source.seek(0)
            table = pa.ipc.open_file(source).read_all()  # an Arrow IPC file (Feather v2) made elsewhere
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def read_saved_dataset(folder: Path, split: str | None = None) -> list[dict[str, Any]]:
    """A folder written by ``save_to_disk``: one split's rows (``split`` picks one of a DatasetDict)."""
    splits_file = folder / "dataset_dict.json"
    if splits_file.exists():
        splits = json.loads(splits_file.read_text(encoding="utf-8")).get("splits", [])
        if split is None:
            if len(splits) != 1:
                raise ValueError(f"{folder} holds the splits {splits}; pick one with split=…")
            split = splits[0]
        if split not in splits:
            raise ValueError(f"{folder} has no split '{split}'; it has {splits}")
        return read_saved_dataset(folder / split)
    state_file = folder / "state.json"
    if not state_file.exists():
        raise ValueError(f"{folder} is not a datasets save_to_disk folder (no state.json or dataset_dict.json)")
    if split is not None:
        raise ValueError(f"{folder} is one split already (no dataset_dict.json); drop split=…")
    shards = [f["filename"] for f in json.loads(state_file.read_text(encoding="utf-8")).get("_data_files", [])]
    if not shards:
        raise ValueError(f"{folder}/state.json names no data files")
    rows: list[dict[str, Any]] = []
    for name in shards:
        rows.extend(_arrow_rows(folder / name))
    return rows


def read_table_file(path: Path) -> list[dict[str, Any]]:
    """A ``.parquet`` or ``.arrow`` file."""
    if path.suffix == ".parquet":
        rows: list[dict[str, Any]] = _pyarrow().parquet.read_table(str(path)).to_pylist()
        return rows
    return _arrow_rows(path)
