"""Single-flight training (training/schedule.py), on a local folder and on GCS (the emulator)."""

from __future__ import annotations

import threading

import pytest

from training.registry import Registry
from training.schedule import STOPPED, Schedule, SlotLost
from training.storage import Storage


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def schedule(storage: Storage, clock: Clock) -> Schedule:
    return Schedule(Registry(storage), lease=45, clock=clock)


def ask(schedule: Schedule, snapshot: str, trigger: str = "api", grace: float = 60):
    return schedule.request(
        {"trigger": trigger, "reason": f"because {snapshot}", "requested_by": "key:abc"}
        | {"snapshot": snapshot, "rows": 10},
        grace=grace,
    )


def test_one_run_at_a_time_and_one_follow_up(schedule: Schedule) -> None:
    first = ask(schedule, "s1")
    assert first.action == "start" and first.behind is None and not first.coalesced
    run = schedule.registry.run(first.run["run_id"])
    assert run == {**run, "status": "queued", "snapshot": "s1", "reason": "because s1"}
    assert run["requested_by"] == "key:abc" and run["trigger"] == "api" and run["rows"] == 10

    second = ask(schedule, "s2", trigger="ingest")
    third = ask(schedule, "s3")
    assert second.action == third.action == "queued"
    assert second.behind == third.behind == first.run["run_id"]
    assert second.run["run_id"] == third.run["run_id"] != first.run["run_id"]
    assert not second.coalesced and third.coalesced

    waiting = schedule.run(third.run["run_id"])
    assert waiting["status"] == "queued" and waiting["behind"] == first.run["run_id"]
    assert waiting["snapshot"] == "s3" and waiting["trigger"] == "ingest"
    assert [r["snapshot"] for r in waiting["requests"]] == ["s2", "s3"]
    assert schedule.runs() == sorted([first.run["run_id"], third.run["run_id"]])


def test_the_finishing_process_trains_the_follow_up(schedule: Schedule) -> None:
    first = ask(schedule, "s1")
    schedule.started(first.run["run_id"], {"runner": "local", "pid": 7})
    entry = schedule.begin(first.run["run_id"], {"host": "h", "pid": 7})
    assert entry["job"] == {"runner": "local", "pid": 7, "host": "h"}
    follow_up = ask(schedule, "s2")

    taken = schedule.finish(first.run["run_id"])
    assert taken is not None and taken["run_id"] == follow_up.run["run_id"]
    assert taken["snapshot"] == "s2" and taken["job"] == entry["job"]
    assert schedule.state()["current"]["run_id"] == taken["run_id"]
    assert schedule.finish(taken["run_id"]) is None
    assert schedule.state() == {"current": None, "next": None}
    assert ask(schedule, "s3").action == "start"


def test_a_run_that_stops_beating_is_failed_and_the_slot_freed(
    schedule: Schedule, clock: Clock
) -> None:
    first = ask(schedule, "s1", grace=60)
    schedule.begin(first.run["run_id"], {"pid": 1})
    schedule.registry.save_run({"run_id": first.run["run_id"], "status": "running", "x": 1})
    follow_up = ask(schedule, "s2")
    clock.now += 30
    assert schedule.heartbeat(first.run["run_id"])
    clock.now += 44
    assert schedule.run(first.run["run_id"])["status"] == "running"

    clock.now += 2
    failed = schedule.run(first.run["run_id"])
    assert (
        failed["status"] == "failed"
        and failed["x"] == 1
        and "no heartbeat since" in failed["error"]
    )
    assert schedule.state()["current"] is None
    assert not schedule.heartbeat(first.run["run_id"])

    resumed = ask(schedule, "s3")
    assert resumed.action == "start" and resumed.run["run_id"] == follow_up.run["run_id"]
    assert [r["snapshot"] for r in resumed.run["requests"]] == ["s2", "s3"]


def test_a_job_started_by_hand_takes_a_free_slot_and_no_other(schedule: Schedule) -> None:
    entry = schedule.begin("r-by-hand", {"pid": 3}, {"trigger": "cli", "inputs": ["a.csv"]})
    assert entry["inputs"] == ["a.csv"] and schedule.state()["current"]["run_id"] == "r-by-hand"
    with pytest.raises(SlotLost):
        schedule.begin("r-other", {"pid": 4})
    assert schedule.finish("r-by-hand") is None


def test_a_job_that_never_starts_fails_after_its_grace(schedule: Schedule, clock: Clock) -> None:
    first = ask(schedule, "s1", grace=120)
    clock.now += 121
    record = schedule.run(first.run["run_id"])
    assert record["status"] == "failed" and "never started" in record["error"]


def test_abandon_fails_the_run_and_resume_starts_the_waiting_one(schedule: Schedule) -> None:
    first = ask(schedule, "s1")
    follow_up = ask(schedule, "s2")
    schedule.abandon(first.run["run_id"], "the training process ended (signal SIGKILL)")
    record = schedule.registry.run(first.run["run_id"])
    assert record["status"] == "failed" and "SIGKILL" in record["error"]
    assert schedule.state()["current"] is None

    resumed = schedule.resume(grace=60)
    assert resumed is not None and resumed["run_id"] == follow_up.run["run_id"]
    assert schedule.registry.run(resumed["run_id"])["status"] == "queued"
    assert schedule.resume(grace=60) is None


def test_a_finished_run_is_never_failed_afterwards(schedule: Schedule, clock: Clock) -> None:
    first = ask(schedule, "s1")
    run_id = first.run["run_id"]
    schedule.registry.save_run({"run_id": run_id, "status": "succeeded"})
    schedule.abandon(run_id, "late")
    clock.now += 1000
    assert schedule.run(run_id)["status"] == "succeeded"


def test_a_running_record_outside_the_schedule_is_failed(schedule: Schedule) -> None:
    schedule.registry.save_run({"run_id": "r-orphan", "status": "running"})
    record = schedule.run("r-orphan")
    assert record["status"] == "failed" and "stopped without finishing" in record["error"]
    with pytest.raises(LookupError):
        schedule.run("no-such-run")


def test_a_person_waits_for_the_slot(schedule: Schedule) -> None:
    first = ask(schedule, "s1")
    assert schedule.acquire({"trigger": "cli", "inputs": ["a.csv"]}, {"pid": 2}) is None
    schedule.finish(first.run["run_id"])
    mine = schedule.acquire({"trigger": "cli", "inputs": ["a.csv"]}, {"pid": 2})
    assert mine is not None and schedule.state()["current"]["run_id"] == mine["run_id"]


def test_concurrent_requests_start_one_run(schedule: Schedule) -> None:
    tickets = []
    barrier = threading.Barrier(12)

    def request(i: int) -> None:
        barrier.wait()
        tickets.append(ask(schedule, f"s{i}"))

    threads = [threading.Thread(target=request, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    started = [t for t in tickets if t.action == "start"]
    queued = [t for t in tickets if t.action == "queued"]
    assert len(started) == 1 and len(queued) == 11
    assert len({t.run["run_id"] for t in queued}) == 1
    waiting = schedule.state()["next"]
    assert len(waiting["requests"]) == 11
    assert sum(t.coalesced for t in queued) == 10


def test_a_run_whose_process_died_is_retried_once(schedule: Schedule, clock: Clock) -> None:
    first = ask(schedule, "s1")
    run_id = first.run["run_id"]
    schedule.begin(run_id, {"host": "h", "pid": 7})
    clock.now += 46
    state = schedule.reconcile()
    retry = state["next"]
    assert state["current"] is None and retry["snapshot"] == "s1" and retry["trigger"] == "retry"
    assert (
        retry["retry_of"] == run_id
        and retry["reason"] == f"retry of run {run_id}, whose training process died"
    )
    failed = schedule.registry.run(run_id)
    assert failed["status"] == "failed" and failed["retried_by"] == retry["run_id"]

    resumed = schedule.resume(grace=60)
    assert resumed["run_id"] == retry["run_id"]
    assert schedule.registry.run(retry["run_id"])["retry_of"] == run_id
    schedule.begin(retry["run_id"], {"host": "h", "pid": 8})
    schedule.abandon(retry["run_id"], "the training process ended (signal SIGKILL)", died=True)
    assert schedule.state() == {"current": None, "next": None}, "a retry is not retried"
    assert "retried_by" not in schedule.registry.run(retry["run_id"])


def test_a_run_that_could_not_start_is_not_retried(schedule: Schedule) -> None:
    first = ask(schedule, "s1")
    schedule.abandon(first.run["run_id"], "the training job could not start: quota")
    assert schedule.state() == {"current": None, "next": None}


def test_a_follow_up_already_waiting_is_the_retry(schedule: Schedule) -> None:
    first = ask(schedule, "s1")
    waiting = ask(schedule, "s2")
    schedule.abandon(first.run["run_id"], "the training process ended (exit code 1)", died=True)
    assert schedule.state()["next"]["run_id"] == waiting.run["run_id"]
    assert schedule.registry.run(first.run["run_id"])["retried_by"] == waiting.run["run_id"]


def killed(schedule: Schedule) -> str:
    """A run whose training process began: the slot's holder, its record running."""
    run_id = ask(schedule, "s1").run["run_id"]
    schedule.begin(run_id, {"host": "h", "pid": 7})
    schedule.registry.save_run({**schedule.registry.run(run_id), "status": "running"})
    return run_id


def test_a_reader_between_freeing_the_slot_and_failing_the_run_loses_nothing(
    schedule: Schedule, monkeypatch: pytest.MonkeyPatch
) -> None:
    """abandon frees the slot, then writes why the run ended: a reader in between finds the
    run active and no longer in flight, and notes it stopped; the failure abandon writes next,
    which names the retry, replaces that note."""
    run_id = killed(schedule)
    fail_record = schedule._fail_record

    def read_first(entry: dict, error: str, retry: str | None = None) -> None:
        assert schedule.run(run_id)["error"] == STOPPED
        fail_record(entry, error, retry)

    monkeypatch.setattr(schedule, "_fail_record", read_first)
    schedule.abandon(run_id, "the training process ended (signal SIGKILL)", died=True)
    record = schedule.registry.run(run_id)
    assert record["error"] == "the training process ended (signal SIGKILL)"
    assert record["retried_by"] == schedule.state()["next"]["run_id"]


def test_a_reader_never_overwrites_the_failure_written_after_it_read(
    schedule: Schedule, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = killed(schedule)
    schedule.abandon(run_id, "the training process ended (signal SIGKILL)", died=True)
    registry = schedule.registry
    written = registry.run(run_id)
    registry.save_run({**written, "status": "running"})
    save_if_unchanged = registry.save_run_if_unchanged

    def abandon_writes_first(run: dict, token: str) -> bool:
        registry.save_run(written)
        return save_if_unchanged(run, token)

    monkeypatch.setattr(registry, "save_run_if_unchanged", abandon_writes_first)
    assert schedule.run(run_id) == written
    assert registry.run(run_id) == written
