"""When schedules run: cron in a time zone (through DST changes), --at, --in, bad input."""

from datetime import datetime, timezone

import pytest

from blufio.errors import ScheduleError
from blufio.scheduler.timing import (check_cron, describe_cron, from_iso, next_cron, parse_at,
                                     parse_duration, parse_in, to_iso, zone)

UTC = timezone.utc
NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


def runs(expression, tz, after, count):
    found = []
    for _ in range(count):
        after = next_cron(expression, tz, after)
        found.append(after)
    return found


def test_the_next_run_is_strictly_after_the_given_time_in_the_schedules_zone():
    nine = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 09:00 in Paris (UTC+1 in winter)
    assert next_cron("0 9 * * *", "Europe/Paris", nine) == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert next_cron("0 9 * * *", "Europe/Paris", NOW) == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert next_cron("0 9 * * *", "UTC", NOW) == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_a_daily_run_keeps_its_local_time_across_daylight_saving_changes():
    # Berlin leaves summer time on 2026-10-25 (03:00 CEST -> 02:00 CET).
    start = datetime(2026, 10, 23, 12, 0, tzinfo=UTC)
    local = [r.astimezone(zone("Europe/Berlin")) for r in runs("0 9 * * *", "Europe/Berlin",
                                                                start, 4)]
    assert [(r.day, r.hour, r.minute) for r in local] == [(24, 9, 0), (25, 9, 0), (26, 9, 0),
                                                          (27, 9, 0)]
    assert [r.utcoffset().total_seconds() / 3600 for r in local] == [2, 1, 1, 1]


def test_a_run_in_the_hour_skipped_in_spring_runs_once_just_after_the_jump():
    # 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
    start = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    found = runs("30 2 * * *", "Europe/Berlin", start, 2)
    assert found[0] == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    assert found[1] == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)  # 02:30 CEST


def test_a_run_in_the_hour_repeated_in_autumn_runs_once():
    # 2026-10-25 in Berlin: 02:00-03:00 happens twice.
    start = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    found = runs("30 2 * * *", "Europe/Berlin", start, 2)
    assert found == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
                     datetime(2026, 10, 26, 1, 30, tzinfo=UTC)]


def test_a_frequent_run_follows_the_wall_clock_through_the_repeated_hour():
    start = datetime(2026, 10, 24, 23, 50, tzinfo=UTC)  # 01:50 CEST
    found = runs("*/30 * * * *", "Europe/Berlin", start, 5)
    gaps = [(b - a).total_seconds() / 60 for a, b in zip(found, found[1:])]
    assert gaps == [30, 30, 30, 30]  # 02:00, 02:30 (summer), 02:00, 02:30 (winter), 03:00


def test_cron_expressions_are_normalised_and_aliases_expanded():
    assert check_cron("  0   9 * *  1-5 ") == "0 9 * * 1-5"
    assert check_cron("@daily") == "0 0 * * *"
    assert "09:00" in describe_cron("0 9 * * 1-5")


@pytest.mark.parametrize("expression, words", [
    ("61 * * * *", "bad minute"),
    ("0 25 * * *", "bad hour"),
    ("* * *", "has 3 fields"),
    ("*/5 * * * * *", "has 6 fields"),
    ("", "give a cron expression"),
    ("0 0 31 2 *", "day-of-month"),
])
def test_an_invalid_cron_expression_is_an_error_naming_the_field(expression, words):
    with pytest.raises(ScheduleError) as caught:
        check_cron(expression)
    assert caught.value.field == "cron"
    assert words in str(caught.value) and str(caught.value).startswith("cron: ")
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../../etc/passwd", "Europe/"])
def test_an_unknown_time_zone_is_an_error_naming_the_field(name):
    with pytest.raises(ScheduleError) as caught:
        zone(name)
    assert caught.value.field == "timezone"


def test_at_reads_a_local_time_in_the_zone_unless_it_has_an_offset():
    assert parse_at("2026-12-01T09:00", "Europe/Paris", NOW) == datetime(2026, 12, 1, 8, 0,
                                                                          tzinfo=UTC)
    assert parse_at("2026-12-01 09:00", "UTC", NOW) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert parse_at("2026-12-01T09:00Z", "Europe/Paris", NOW) == datetime(2026, 12, 1, 9, 0,
                                                                           tzinfo=UTC)
    assert parse_at("2026-12-01T09:00+02:00", "UTC", NOW) == datetime(2026, 12, 1, 7, 0,
                                                                       tzinfo=UTC)


def test_at_with_only_a_time_of_day_means_the_next_one():
    assert parse_at("18:30", "UTC", NOW) == datetime(2026, 11, 25, 18, 30, tzinfo=UTC)
    assert parse_at("9:00", "UTC", NOW) == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, words", [
    ("2020-01-01T09:00", "in the past"),
    ("2026-11-25T17:00", "in the past"),
    ("tomorrow", "not a date and time"),
    ("25:00", "not a time of day"),
    ("", "give a local date and time"),
])
def test_a_bad_or_past_at_time_is_an_error_naming_the_field(text, words):
    with pytest.raises(ScheduleError) as caught:
        parse_at(text, "UTC", NOW)
    assert caught.value.field == "at" and words in str(caught.value)


def test_in_takes_one_or_more_units():
    assert parse_duration("5s") == 5
    assert parse_duration("1h30m") == 5400
    assert parse_duration("2d") == 2 * 86400 and parse_duration("1d 2h") == 93600
    assert parse_in("15m", NOW) == datetime(2026, 11, 25, 17, 15, tzinfo=UTC)


@pytest.mark.parametrize("text", ["0s", "5", "5x", "-5m", "", "soon", "99999d", "1w"])
def test_a_bad_duration_is_an_error_naming_the_field(text):
    with pytest.raises(ScheduleError) as caught:
        parse_duration(text)
    assert caught.value.field == "in"


def test_stored_times_round_trip_and_sort_as_text():
    moment = datetime(2026, 11, 25, 17, 0, 1, 5, tzinfo=UTC)
    assert from_iso(to_iso(moment)) == moment
    assert to_iso(moment) < to_iso(datetime(2026, 11, 25, 17, 0, 2, tzinfo=UTC))
