"""The tolerance check every comparison uses."""

import numpy as np
import pytest

ATOL = 3e-5
RTOL = 3e-4

# Per device: the reference keeps the bounds above; the fast CPU path is held
# to the PRECISE contract of seqattn.h, 1e-5 + 1e-4*|x| of the reference.
TOLERANCES = {"reference": (ATOL, RTOL), "cpu": (1e-5, 1e-4)}


def tolerance(device):
    """atol= and rtol= for results of a handle on `device` ("cpu", "reference")."""
    atol, rtol = TOLERANCES[device]
    return {"atol": atol, "rtol": rtol}


def assert_close(actual, expected, name, atol=ATOL, rtol=RTOL):
    """|actual - expected| <= atol + rtol*|expected| everywhere; reports the first miss."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    bad = ~(np.abs(actual - expected) <= atol + rtol * np.abs(expected))  # NaN counts as bad
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        worst = np.nanmax(np.abs(actual - expected) / (atol + rtol * np.abs(expected)))
        pytest.fail(f"{name}: {int(bad.sum())} of {bad.size} elements differ; first at "
                    f"{first}: got {actual[first]!r}, expected {expected[first]!r} "
                    f"(worst error/tolerance {worst:.3g})")
