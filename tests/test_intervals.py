"""The 95% intervals of gdlib.intervals and the rule that an interval straddling a threshold cannot tell."""

import math

import pytest

from gdlib.claims import CANNOT_TELL, FAILS, HOLDS, Evidence, Outcome, verdict
from gdlib.intervals import Interval, part_at_least, part_below, t_interval, wilson


def test_wilson_interval_of_none_and_all_of_n_is_one_sided_and_not_degenerate():
    none, every = wilson(0, 10), wilson(10, 10)
    assert none.low == 0.0 and none.high == pytest.approx(0.2775, abs=1e-4)  # z^2 / (n + z^2)
    assert every.high == 1.0 and every.low == pytest.approx(1 - 0.2775, abs=1e-4)


def test_wilson_interval_matches_the_textbook_value_for_81_of_263():
    # Newcombe (1998), Stat. Med. 17: 857, example: 81/263 -> 0.2553 to 0.3662 (Wilson, no continuity correction)
    ci = wilson(81, 263)
    assert (ci.low, ci.high) == (pytest.approx(0.2553, abs=1e-4), pytest.approx(0.3662, abs=1e-4))


def test_wilson_interval_without_samples_is_unknown_and_decides_nothing_as_passing():
    ci = wilson(0, 0)
    assert math.isnan(ci.low) and ci.at_least(0.5) == (False, False)


def test_t_interval_of_a_slope_widens_with_fewer_degrees_of_freedom():
    assert t_interval(2.0, 0.1, 1).high - 2.0 == pytest.approx(1.2706, abs=1e-3)  # t(0.975, 1) = 12.706
    assert t_interval(2.0, 0.1, 30).high - 2.0 == pytest.approx(0.2042, abs=1e-3)


def test_an_interval_decides_a_part_only_when_it_clears_the_threshold():
    assert part_at_least("a", Interval(0.7, 0.65, 0.75), 0.6).passes
    assert part_at_least("a", Interval(0.5, 0.4, 0.55), 0.6).clearly_fails
    straddling = part_at_least("a", Interval(0.65, 0.5, 0.8), 0.6)
    assert not straddling.passes and straddling.straddles and not straddling.clearly_fails
    assert part_below("b", Interval(0.1, 0.0, 0.25), 0.3).passes
    assert part_below("b", Interval(0.28, 0.1, 0.45), 0.3).straddles


def test_an_interval_straddling_its_threshold_gives_cannot_tell_and_clearing_it_holds():
    fail_control = {"copier": Outcome((part_at_least("c", Interval(0.1, 0.0, 0.2), 0.6),), "")}
    straddles = Outcome((part_at_least("m", Interval(0.65, 0.5, 0.8), 0.6),), "")
    clears = Outcome((part_at_least("m", Interval(0.8, 0.7, 0.9), 0.6),), "")
    below = Outcome((part_at_least("m", Interval(0.3, 0.2, 0.4), 0.6),), "")
    assert verdict(Evidence(straddles, fail_control), "quick")[0] == CANNOT_TELL
    assert verdict(Evidence(clears, fail_control), "quick")[0] == HOLDS
    assert verdict(Evidence(below, fail_control), "quick")[0] == FAILS
    control_straddles = {"copier": Outcome((part_at_least("c", Interval(0.5, 0.3, 0.7), 0.6),), "")}
    assert verdict(Evidence(clears, control_straddles), "quick")[0] == CANNOT_TELL


def test_within_passes_inside_straddles_across_an_edge_and_fails_outside():
    from gdlib.intervals import Interval, part_within

    assert Interval(2.0, 1.6, 2.4).within(1.5, 2.5) == (True, False)
    assert Interval(2.0, 1.0, 3.0).within(1.5, 2.5) == (False, True)  # reaches inside, not wholly
    assert Interval(2.4, 2.3, 2.6).within(1.5, 2.5) == (False, True)
    assert Interval(3.0, 2.8, 3.2).within(1.5, 2.5) == (False, False)  # wholly outside: clearly fails
    assert Interval(2.0, math.nan, math.nan).within(1.5, 2.5) == (False, False)
    assert part_within("s", Interval(3.0, 2.8, 3.2), 1.5, 2.5).clearly_fails
