"""judges/replicas.py: the live processes on one database, counted from their heartbeats (both backends)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from judge_service.judges import replicas
from judge_service.store.db import Database


def test_live_replicas_are_counted_and_leave_or_age_out(db_url):
    db = Database(db_url)
    now = datetime.now(timezone.utc)
    window = timedelta(seconds=6)
    with db.session() as s:
        assert replicas.beat(s, "host:1:a", now, now - window) == 1
    with db.session() as s:
        assert replicas.beat(s, "host:2:b", now, now - window) == 2
        assert replicas.beat(s, "host:3:c", now, now - window) == 3
    with db.session() as s:  # c stopped gracefully: gone at once
        replicas.leave(s, "host:3:c")
    later = now + timedelta(seconds=10)  # b was killed -9: no beat since, so it ages out of the window
    with db.session() as s:
        assert replicas.beat(s, "host:1:a", later, later - window) == 1
    much_later = later + timedelta(hours=2)  # and its row is cleared by whoever beats next
    with db.session() as s:
        replicas.beat(s, "host:1:a", much_later, much_later - window)
        assert {r.owner for r in s.query(replicas.ReplicaRow)} == {"host:1:a"}
    db.close()


def test_a_service_process_beats_at_start_and_leaves_at_stop(make_client):
    client = make_client()
    ctx = client.app.state.ctx
    with ctx.db.session() as s:
        assert [r.owner for r in s.query(replicas.ReplicaRow)] == [ctx.runs.owner]
    assert ctx.replicas.replicas == 1
    client.__exit__(None, None, None)
    with ctx.db.session() as s:
        assert s.query(replicas.ReplicaRow).count() == 0
