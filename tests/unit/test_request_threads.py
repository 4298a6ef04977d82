"""chalicelib.server.RequestThreads: the bounded set of threads that run requests."""

from __future__ import annotations

import threading

from chalicelib.server import RequestThreads


def test_no_more_than_its_size_run_at_once_and_the_rest_wait_their_turn():
    threads = RequestThreads(3)
    gate, changed = threading.Event(), threading.Condition()
    running, most, done = [0], [0], []

    def job(n: int) -> None:
        with changed:
            running[0] += 1
            most[0] = max(most[0], running[0])
            changed.notify_all()
        gate.wait(10)
        with changed:
            running[0] -= 1
            done.append(n)

    for n in range(10):
        threads.submit(lambda n=n: job(n))
    with changed:  # until three jobs are in (the fourth can only start once one of them ends)
        assert changed.wait_for(lambda: running[0] == 3, timeout=10)
    gate.set()
    threads.shutdown()  # returns once every queued job has run

    assert most[0] == 3
    assert sorted(done) == list(range(10))


def test_a_failing_job_leaves_its_thread_serving():
    threads = RequestThreads(1)
    done = []
    threads.submit(lambda: 1 / 0)
    threads.submit(lambda: done.append("after"))
    threads.shutdown()

    assert done == ["after"]
