"""`StartupState`: what /healthz says while `run` is still starting."""

from swingtrader.startup import StartupState


def test_describes_the_step_and_its_age_until_finished() -> None:
    now = [100.0]
    state = StartupState(monotonic=lambda: now[0])
    assert state.describe() is None
    state.begin("logging in")
    now[0] = 112.4
    assert state.describe() == "starting: logging in (12 s)"
    state.finish()
    assert state.describe() is None
