"""The gate that runs a re-run of an interrupted tool call alone in its process."""

import threading
import time

from workers.tools.solo_gate import SoloGate

WAIT_S = 5.0


def in_thread(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_first_executions_share_the_process():
    gate = SoloGate()
    with gate.shared(), gate.shared():
        assert gate.running == 2
    assert gate.running == 0


def test_a_rerun_waits_until_it_is_alone_and_holds_new_executions_back():
    gate, order = SoloGate(), []
    rerun_inside, rerun_may_leave = threading.Event(), threading.Event()

    def rerun():
        with gate.alone():
            order.append("rerun")
            rerun_inside.set()
            rerun_may_leave.wait(WAIT_S)

    def first_execution():
        with gate.shared():
            order.append("new")

    # Given an execution in progress
    with gate.shared():
        # When a re-run arrives, then a new execution
        rerun_thread = in_thread(rerun)
        while not gate.waiting_alone:  # the re-run is queued
            time.sleep(0.001)
        new_thread = in_thread(first_execution)
        time.sleep(0.05)
        # Then neither starts while the first execution runs
        assert order == [] and gate.running == 1
    # and the re-run goes first, alone, before the new execution
    assert rerun_inside.wait(WAIT_S)
    time.sleep(0.05)
    assert order == ["rerun"] and gate.running == 1
    rerun_may_leave.set()
    rerun_thread.join(WAIT_S)
    new_thread.join(WAIT_S)
    assert order == ["rerun", "new"] and gate.running == 0


def test_reruns_go_one_at_a_time():
    gate, inside, most = SoloGate(), [0], [0]
    lock = threading.Lock()

    def rerun():
        with gate.alone():
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.01)
            with lock:
                inside[0] -= 1

    threads = [in_thread(rerun) for _ in range(8)]
    for thread in threads:
        thread.join(WAIT_S)
    assert most[0] == 1 and gate.running == 0


def test_a_rerun_that_fails_leaves_the_gate_open():
    gate = SoloGate()
    try:
        with gate.alone():
            raise RuntimeError("the tool's host could not be started")
    except RuntimeError:
        pass
    with gate.shared():
        assert gate.running == 1
