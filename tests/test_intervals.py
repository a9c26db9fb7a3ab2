"""The 95% intervals of gdlib.intervals and the rule that an interval straddling a threshold cannot tell."""

import math

import pytest

from gdlib.claims import CANNOT_TELL, FAILS, HOLDS, Evidence, Outcome, verdict
from gdlib.intervals import (
    Interval,
    part_all,
    part_at_least,
    part_at_most,
    part_below,
    part_within,
    resampled,
    t_interval,
    wilson,
)


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


def test_resampled_interval_is_shifted_to_contain_the_estimate_and_is_the_value_without_resamples():
    # resampling with replacement lowers a spectrum's rank: replicates all below the estimate still give an interval
    # around it, with their spread and skew
    ci = resampled(10.0, [7.0 + 0.01 * k for k in range(101)])  # median 7.5, percentiles 7.025 and 7.975
    assert ci.value == 10.0 and ci.low == pytest.approx(9.525) and ci.high == pytest.approx(10.475)
    assert resampled(3.0, None) == Interval(3.0, 3.0, 3.0) == resampled(3.0, [])  # an exact reference: its value
    few = resampled(3.0, [1.0, 2.0, float("nan")] + [float("nan")] * 20)  # fewer than 10 finite: unknown
    assert math.isnan(few.low) and part_at_least("a", few, 1.0).clearly_fails


def test_at_most_and_within_include_the_threshold_and_straddle_across_it():
    assert part_at_most("a", Interval(0.9, 0.8, 0.9), 0.9).passes  # "<=": the bound itself clears
    assert part_at_most("a", Interval(0.85, 0.8, 0.95), 0.9).straddles
    assert part_at_most("a", Interval(1.0, 0.95, 1.1), 0.9).clearly_fails
    assert part_within("r", Interval(7.0, 5.0, 10.0), 5.0, 10.0).passes
    assert part_within("r", Interval(9.5, 8.0, 11.0), 5.0, 10.0).straddles
    assert part_within("r", Interval(5.5, 4.0, 12.0), 5.0, 10.0).straddles  # wider than the range
    assert part_within("r", Interval(12.0, 11.0, 13.0), 5.0, 10.0).clearly_fails


def test_a_part_of_several_conditions_straddles_unless_one_fails_clearly():
    clears, straddles, fails = (part_at_least("c", Interval(v, v - 0.1, v + 0.1), 0.5) for v in (0.7, 0.55, 0.2))
    assert part_all("all", [clears, clears]).passes
    assert part_all("all", [clears, straddles]).straddles
    assert part_all("all", [straddles, fails]).clearly_fails
