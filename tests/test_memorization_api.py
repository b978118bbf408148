"""The memorization routes through HTTP (the real app, scripted judges): indexes reused by content
hash, regurgitation with base vs tuned, contamination with impact, bad input as named 4xx."""

from __future__ import annotations

import json
import random

from test_memorization_core import sentence


def training_lines(n: int = 60, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [{"id": f"t{i}", "messages": [{"role": "user", "content": sentence(rng, 8)},
                                         {"role": "assistant", "content": " ".join(sentence(rng, 12) for _ in range(6))}]}
            for i in range(n)]


def test_index_regurgitation_and_contamination_over_http(client) -> None:
    records = training_lines()
    r = client.post("/v1/overlap-indexes", json={"records": records, "name": "sft-v1"})
    assert r.status_code == 201, r.text
    index = r.json()
    assert index["n_docs"] == 60 and not index["reused"] and index["memory_bytes"] > 0
    again = client.post("/v1/overlap-indexes", json={"records": records, "name": "sft-v1"}).json()
    assert again["id"] == index["id"] and again["reused"]
    assert client.get(f"/v1/overlap-indexes/{index['id']}").json()["content_hash"] == index["content_hash"]

    copied = records[3]["messages"][1]["content"]
    rng = random.Random(1)
    outputs = [{"id": "copy", "output": "Here: " + copied, "prompt": "q", "base_output": "Something new " + sentence(rng, 60)},
               {"id": "echo", "output": copied, "prompt": copied, "base_output": sentence(rng, 30)},
               {"id": "clean", "output": sentence(rng, 70), "base_output": copied}]
    r = client.post("/v1/regurgitation", json={"index_id": index["id"], "outputs": outputs})
    assert r.status_code == 201, r.text
    rep = r.json()
    flags = {i["id"]: i["flag"] for i in rep["items"]}
    assert flags == {"copy": "regurgitation", "echo": "none", "clean": "none"}
    m = rep["items"][0]["matches"][0]
    assert m["doc_id"] == "t3" and m["training_span"].split() == m["text_span"].split()
    assert rep["comparison"]["regurgitation"]["only_tuned"] == 1 and rep["comparison"]["regurgitation"]["only_base"] == 1
    assert rep["comparison"]["regurgitation"]["difference"]["p_value"] == 1.0
    assert client.get(f"/v1/regurgitation/{rep['id']}").json()["items"] == rep["items"]

    items = [{"id": f"q{i}", "text": records[i]["messages"][1]["content"], "outcome": 1.0} for i in range(5)]
    items += [{"id": f"c{i}", "text": sentence(rng, 30), "outcome": float(i % 2)} for i in range(6)]
    r = client.post("/v1/contamination", json={"index_id": index["id"], "items": items, "n_resamples": 500})
    assert r.status_code == 201, r.text
    con = r.json()
    assert con["contaminated"] == 5 and {i["id"] for i in con["items"] if i["contaminated"]} == {f"q{i}" for i in range(5)}
    assert con["impact"]["headline"]["estimate"] == 0.5 and con["impact"]["contaminated"]["estimate"] == 1.0
    assert client.get(f"/v1/contamination/{con['id']}").json()["impact"] == con["impact"]


def test_upload_csv_and_jsonl(client) -> None:
    rng = random.Random(4)
    rows = [sentence(rng, 40) for _ in range(20)]
    csv_text = "id,output\n" + "\n".join(f"r{i},{t}" for i, t in enumerate(rows))
    r = client.post("/v1/overlap-indexes/upload", files={"file": ("train.csv", csv_text.encode())})
    assert r.status_code == 201, r.text
    assert r.json()["n_docs"] == 20
    jsonl = "\n".join(json.dumps({"completion": t}) for t in rows)
    r = client.post("/v1/overlap-indexes/upload", files={"file": ("train.jsonl", jsonl.encode())},
                    data={"options": json.dumps({"n": 8})})
    assert r.status_code == 201 and r.json()["options"]["n"] == 8


def test_bad_input_is_a_named_4xx(client) -> None:
    def error(r, status: int) -> dict:
        assert r.status_code == status, r.text
        return r.json()["error"]

    assert error(client.post("/v1/overlap-indexes", json={"records": []}), 422)["field"] == "records"
    wrong = error(client.post("/v1/overlap-indexes", json={"records": [{"question": "x"}]}), 422)
    assert wrong["field"] == "text_fields" and "question" in wrong["message"]
    assert error(client.post("/v1/overlap-indexes", json={"records": [{"output": "a"}], "text_fields": ["nope"]}),
                 422)["field"] == "text_fields"
    assert error(client.post("/v1/overlap-indexes/upload", files={"file": ("t.jsonl", b"")}), 422)["field"] == "file"
    assert error(client.post("/v1/overlap-indexes/upload", files={"file": ("t.jsonl", b"{not json\n")}),
                 422)["field"] == "file.line1"
    assert error(client.post("/v1/overlap-indexes/upload", files={"file": ("t.jsonl", b"x")},
                             data={"options": '{"n": 2}'}), 422)["field"] == "options.n"
    assert error(client.post("/v1/regurgitation", json={"index_id": "oix_missing", "outputs": [{"output": "x"}]}),
                 404)["field"] == "index_id"
    idx = client.post("/v1/overlap-indexes", json={"records": [{"output": sentence(random.Random(0), 30)}]}).json()["id"]
    assert error(client.post("/v1/regurgitation", json={"index_id": idx}), 422)["field"] == "outputs"
    assert error(client.post("/v1/regurgitation", json={"index_id": idx, "outputs": [{"output": "a", "base_output": "b"},
                                                                                       {"output": "c"}]}),
                 422)["field"] == "outputs.1.base_output"
    assert error(client.post("/v1/regurgitation", json={"index_id": idx, "outputs": [{"output": "a"}],
                                                        "thresholds": {"partial": 5}}), 422)["field"] == "thresholds.partial"
    assert error(client.post("/v1/contamination", json={"index_id": idx, "items": [{"id": "x"}]}), 422)["field"] == "items.0.text"
    assert error(client.post("/v1/contamination", json={"index_id": idx, "run_id": "run_nope"}), 404)["field"] == "run_id"


def test_an_oversized_upload_is_refused(client) -> None:
    """A 1 GiB Content-Length is refused before the body is read; a chunked body with no length
    (64 MiB here: over the 20 MB default, small enough for the test process) is cut off by the
    service's body limit. Either way a 413 naming the body, never a 500."""

    def body():
        chunk = b"x" * (1 << 20)
        for _ in range(64):
            yield chunk

    r = client.post("/v1/overlap-indexes/upload", content=body(),
                    headers={"content-type": "multipart/form-data; boundary=zz"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    r = client.post("/v1/overlap-indexes/upload", content=b"x", headers={"content-length": str(1 << 30),
                                                                           "content-type": "multipart/form-data; boundary=zz"})
    assert r.status_code == 413
