"""Open the units of a function-preserving width growth linearly over a number of steps, then finish the ramp."""

from __future__ import annotations


def advance_growth_ramp(model, ramp_steps: int) -> None:
    """One step of the ramp (a no-op when none runs); progress is kept in the model config, so it resumes exactly."""
    progress = model.growth_ramp_progress
    if progress is None:
        return
    progress = min(1.0, progress + 1.0 / max(ramp_steps, 1))
    if progress >= 1.0:
        model.finish_growth_ramp()
    else:
        model.set_growth_ramp_progress(progress)
