"""The rules of one run's shared state (clockwf.executor.state), for every sequence of what
the worker, the lease keeper and ``stop`` may do, in any order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clockwf.executor.state import Phase, RunControl

OPS = ("take_away", "cancel", "begin_finishing", "resume", "mark_lost", "done")

# The model: from each phase, where each operation leads and what it answers.
MODEL: dict[tuple[Phase, str], tuple[Phase, bool]] = {}
for phase in Phase:
    running = phase is Phase.RUNNING
    MODEL[phase, "take_away"] = (Phase.LOST, True) if running else (phase, False)
    MODEL[phase, "cancel"] = (phase, running)   # (True only for the first request)
    MODEL[phase, "begin_finishing"] = (Phase.FINISHING, True) if running else (phase, False)
    MODEL[phase, "resume"] = (Phase.RUNNING if phase is Phase.FINISHING else phase, True)
    MODEL[phase, "mark_lost"] = ((Phase.LOST, True) if phase in (Phase.RUNNING,
                                                                 Phase.FINISHING)
                                 else (phase, False))
    MODEL[phase, "done"] = (Phase.DONE, True)


def control() -> RunControl:
    return RunControl({"run_id": 7, "workflow_id": "wf"})


@given(st.lists(st.sampled_from(OPS), max_size=12))
def test_every_sequence_follows_the_model(ops: list[str]) -> None:
    ctl = control()
    phase = Phase.RUNNING
    requested = False
    for op in ops:
        expected_phase, answer = MODEL[phase, op]
        got = getattr(ctl, op)("why") if op in ("take_away", "cancel") else getattr(ctl, op)()
        if op == "cancel":
            answer = answer and not requested
        if op in ("take_away", "cancel", "begin_finishing", "mark_lost"):
            assert got is answer, (op, phase)
        if op in ("take_away", "cancel") and got:
            requested = True
        phase = expected_phase
        assert ctl.phase is phase
        assert ctl.lost is (phase is Phase.LOST)
        assert ctl.renewable is (phase is Phase.RUNNING)


@given(st.lists(st.sampled_from(OPS), max_size=12))
def test_nothing_is_written_once_lost(ops: list[str]) -> None:
    """A lost run never becomes writable again: the worker may not start finishing it."""
    ctl = control()
    assert ctl.take_away("it is interrupted now")
    for op in ops:
        if op in ("done", "resume"):
            continue
        if op in ("take_away", "cancel"):
            getattr(ctl, op)("why")
        else:
            getattr(ctl, op)()
        assert ctl.phase is Phase.LOST
        assert not ctl.begin_finishing()


def test_the_keeper_leaves_a_finishing_run_alone() -> None:
    ctl = control()
    assert ctl.begin_finishing()
    assert not ctl.take_away("gone") and not ctl.cancel("by a test")
    assert ctl.reason is None and ctl.phase is Phase.FINISHING


def test_a_cancel_from_the_store_ends_the_step_and_keeps_its_reason() -> None:
    ctl = control()
    assert ctl.cancel("cancelled by `clockwf runs cancel`")
    assert ctl.reason == ("cancelled", "cancelled: cancelled by `clockwf runs cancel`")
    assert ctl.cancel_from_store and ctl.wait(0)
    # taken from us meanwhile: nothing more is written, the first request still says why
    assert ctl.take_away("gone") and ctl.phase is Phase.LOST
    assert ctl.reason == ("cancelled", "cancelled: cancelled by `clockwf runs cancel`")
