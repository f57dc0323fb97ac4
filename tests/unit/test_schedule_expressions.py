"""EventBridge schedule expressions: parsing as AWS checks them, and the next fire time."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import pytest

from sluiceway.core.errors import ValidationError
from sluiceway.core.schedule import At, Cron, Rate, parse_schedule


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def next_fire(expression: str, after: str, anchor: str | None = None) -> str | None:
    schedule = parse_schedule(expression)
    start = 0.0 if anchor is None else epoch(anchor)
    return iso(schedule.next_after(epoch(after), anchor=start))


def fires(expression: str, after: str, count: int) -> list[str | None]:
    schedule = parse_schedule(expression)
    times: list[str | None] = []
    moment: float | None = epoch(after)
    for _ in range(count):
        assert moment is not None
        moment = schedule.next_after(moment)
        times.append(iso(moment))
    return times


# -- rate ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(12 hours)", 43_200),
        ("rate(1 day)", 86_400),
        ("rate(7 days)", 604_800),
    ],
)
def test_a_rate_is_its_period_in_seconds(expression: str, seconds: int) -> None:
    assert parse_schedule(expression) == Rate(expression, seconds)


def test_a_rate_fires_every_period_counted_from_its_anchor() -> None:
    created = "2026-12-07T10:02:30"
    assert next_fire("rate(5 minutes)", created, created) == "2026-12-07T10:07:30"
    assert next_fire("rate(5 minutes)", "2026-12-07T10:07:29", created) == "2026-12-07T10:07:30"
    # strictly after: a moment on a slot gives the next one
    assert next_fire("rate(5 minutes)", "2026-12-07T10:07:30", created) == "2026-12-07T10:12:30"
    assert next_fire("rate(1 day)", "2026-12-09T00:00:00", created) == "2026-12-09T10:02:30"


def test_a_rate_before_its_anchor_first_fires_a_period_after_the_anchor() -> None:
    assert next_fire("rate(1 hour)", "2026-12-07T08:00:00", "2026-12-07T10:00:00") == (
        "2026-12-07T11:00:00"
    )


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("rate(1 minutes)", "a value of 1 takes the singular unit: rate(1 minute)"),
        ("rate(1 hours)", "a value of 1 takes the singular unit: rate(1 hour)"),
        ("rate(5 minute)", "a value above 1 takes the plural unit: rate(5 minutes)"),
        ("rate(2 day)", "a value above 1 takes the plural unit: rate(2 days)"),
        ("rate(0 minutes)", "the value '0' is not a positive whole number"),
        ("rate(-5 minutes)", "the value '-5' is not a positive whole number"),
        ("rate(1.5 hours)", "the value '1.5' is not a positive whole number"),
        ("rate(5 seconds)", "the unit 'seconds' is not minute(s), hour(s) or day(s)"),
        ("rate(2 weeks)", "the unit 'weeks' is not minute(s), hour(s) or day(s)"),
        ("rate(5)", "a rate is a value and a unit separated by one space"),
        ("rate(5  minutes)", "a rate is a value and a unit separated by one space"),
    ],
)
def test_a_bad_rate_says_what_is_wrong(expression: str, problem: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_schedule(expression)
    assert str(raised.value).startswith(f"rate expression {expression!r}: {problem}")


# -- cron ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # AWS's examples
        ("cron(15 10 * * ? *)", "2026-12-07T10:15:00", "2026-12-08T10:15:00"),
        ("cron(0 18 ? * MON-FRI *)", "2026-12-05T09:00:00", "2026-12-07T18:00:00"),
        ("cron(0 8 1 * ? *)", "2026-12-07T09:00:00", "2027-01-01T08:00:00"),
        ("cron(0/10 * ? * MON-FRI *)", "2026-12-07T10:01:00", "2026-12-07T10:10:00"),
        ("cron(0/5 8-17 ? * MON-FRI *)", "2026-12-07T17:56:00", "2026-12-08T08:00:00"),
        ("cron(0 9 ? * 2#1 *)", "2026-12-07T10:00:00", "2027-01-04T09:00:00"),
        # lists, ranges, increments, names
        ("cron(5,35 * * * ? *)", "2026-12-07T10:06:00", "2026-12-07T10:35:00"),
        ("cron(1/20 * * * ? *)", "2026-12-07T10:41:00", "2026-12-07T11:01:00"),
        ("cron(10-20/5 6 * * ? *)", "2026-12-07T06:15:30", "2026-12-07T06:20:00"),
        ("cron(0 0 * JAN,JUL ? *)", "2026-12-07T00:00:00", "2027-01-01T00:00:00"),
        ("cron(0 0 1 feb-mar ? *)", "2026-12-07T00:00:00", "2027-02-01T00:00:00"),
        ("cron(0 12 ? * SUN *)", "2026-12-07T00:00:00", "2026-12-13T12:00:00"),
        ("cron(0 12 ? * 1,7 *)", "2026-12-07T00:00:00", "2026-12-12T12:00:00"),
        ("cron(0 12 ? * * *)", "2026-12-07T12:00:00", "2026-12-08T12:00:00"),
        # a fraction of a second past a fire time: the next one
        ("cron(* * * * ? *)", "2026-12-07T10:00:00.5", "2026-12-07T10:01:00"),
        # day 31 skips the months without one
        ("cron(0 0 31 * ? *)", "2026-12-31T00:00:00", "2027-01-31T00:00:00"),
        ("cron(0 0 31 * ? *)", "2027-01-31T00:00:00", "2027-03-31T00:00:00"),
        # 29 February: leap years only
        ("cron(0 0 29 2 ? *)", "2026-12-07T00:00:00", "2028-02-29T00:00:00"),
    ],
)
def test_a_cron_fires_on_the_next_matching_minute(
    expression: str, after: str, expected: str
) -> None:
    assert next_fire(expression, after) == expected


def test_l_in_day_of_month_is_the_month_s_last_day() -> None:
    assert fires("cron(0 18 L * ? *)", "2027-01-01T00:00:00", 3) == [
        "2027-01-31T18:00:00",
        "2027-02-28T18:00:00",
        "2027-03-31T18:00:00",
    ]
    assert next_fire("cron(0 18 L 2 ? *)", "2027-03-01T00:00:00") == "2028-02-29T18:00:00"


def test_w_is_the_weekday_nearest_the_day_without_leaving_the_month() -> None:
    # 15 Aug 2026 is a Saturday: the Friday before
    assert next_fire("cron(0 9 15W * ? *)", "2026-08-01T00:00:00") == "2026-08-14T09:00:00"
    # 15 Nov 2026 is a Sunday: the Monday after
    assert next_fire("cron(0 9 15W * ? *)", "2026-11-01T00:00:00") == "2026-11-16T09:00:00"
    # 15 Dec 2026 is a Tuesday: that day
    assert next_fire("cron(0 9 15W * ? *)", "2026-12-01T00:00:00") == "2026-12-15T09:00:00"
    # 1 Aug 2026 is a Saturday: not the Friday in July but Monday the 3rd
    assert next_fire("cron(0 9 1W * ? *)", "2026-07-31T00:00:00") == "2026-08-03T09:00:00"
    # 31 Jan 2027 is a Sunday: not Monday 1 Feb but Friday the 29th
    assert next_fire("cron(0 9 31W * ? *)", "2027-01-02T00:00:00") == "2027-01-29T09:00:00"
    # 31W in a 30-day month: no fire that month (April has none ever)
    assert next_fire("cron(0 9 31W * ? *)", "2027-04-01T00:00:00") == "2027-05-31T09:00:00"
    assert next_fire("cron(0 9 31W 4 ? *)", "2026-12-07T00:00:00") is None


def test_hash_is_the_nth_such_weekday_of_the_month() -> None:
    # 3#2: the second Tuesday
    assert fires("cron(0 10 ? * 3#2 *)", "2026-12-01T00:00:00", 3) == [
        "2026-12-08T10:00:00",
        "2027-01-12T10:00:00",
        "2027-02-09T10:00:00",
    ]
    # FRI#5: only the months with five Fridays (Jan 2027 has 29 Jan; Feb to Apr have none)
    assert fires("cron(0 10 ? * FRI#5 *)", "2026-12-07T00:00:00", 2) == [
        "2027-01-29T10:00:00",
        "2027-04-30T10:00:00",
    ]


def test_l_in_day_of_week_is_saturday_and_nl_the_month_s_last_such_day() -> None:
    assert next_fire("cron(0 10 ? * L *)", "2026-12-07T00:00:00") == "2026-12-12T10:00:00"
    # 6L: the last Friday (25 Dec 2026, 29 Jan 2027)
    assert fires("cron(0 10 ? * 6L *)", "2026-12-07T00:00:00", 2) == [
        "2026-12-25T10:00:00",
        "2027-01-29T10:00:00",
    ]


def test_the_year_field_bounds_the_fires() -> None:
    assert next_fire("cron(0 0 1 1 ? 2030)", "2026-12-07T00:00:00") == "2030-01-01T00:00:00"
    assert next_fire("cron(0 0 1 1 ? 2030)", "2030-01-01T00:00:00") is None
    assert next_fire("cron(0 0 1 1 ? 2027-2029/2)", "2027-06-01T00:00:00") == (
        "2029-01-01T00:00:00"
    )
    assert next_fire("cron(59 23 31 12 ? *)", "2199-12-31T23:59:00") is None
    assert next_fire("cron(0 0 1 1 ? 1970)", "1969-06-01T00:00:00") == "1970-01-01T00:00:00"


def test_a_date_that_never_comes_never_fires() -> None:
    assert next_fire("cron(0 0 30 2 ? *)", "2026-12-07T00:00:00") is None


def test_times_are_utc_whatever_the_daylight_saving_time_of_the_host() -> None:
    # Around Europe's and the US's clock changes, a daily cron stays 24 hours apart in UTC.
    for after in ("2026-03-07T00:00:00", "2026-03-28T00:00:00", "2026-10-24T00:00:00"):
        times = fires("cron(30 1 * * ? *)", after, 4)
        gaps = {epoch(b) - epoch(a) for a, b in pairwise(times) if a and b}
        assert gaps == {86_400.0}
        assert all(t is not None and t.endswith("T01:30:00") for t in times)


def test_a_cron_ignores_the_anchor() -> None:
    assert next_fire("cron(0 12 * * ? *)", "2026-12-07T00:00:00", "2026-12-06T11:11:11") == (
        "2026-12-07T12:00:00"
    )


def test_a_cron_keeps_its_fields() -> None:
    parsed = parse_schedule("cron(0 12 ? * MON-FRI *)")
    assert isinstance(parsed, Cron)
    assert parsed.minutes == (0,)
    assert parsed.hours == (12,)
    assert parsed.months == tuple(range(1, 13))
    assert parsed.years == tuple(range(1970, 2200))


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        (
            "cron(0 12 * * * *)",
            "day-of-month and day-of-week cannot both be '*'; use '?' in one of them",
        ),
        (
            "cron(0 12 ? * ? *)",
            "day-of-month and day-of-week cannot both be '?'; give one of them a value or '*'",
        ),
        (
            "cron(0 12 1 * MON *)",
            "day-of-month '1' and day-of-week 'MON' cannot both be given; use '?' in one of them",
        ),
        ("cron(0 12 * * ?)", "a cron expression has 6 fields"),
        ("cron(0 0 12 * * ? *)", "a cron expression has 6 fields"),
        ("cron(60 12 * * ? *)", "minutes 60 is outside 0-59"),
        ("cron(0 24 * * ? *)", "hours 24 is outside 0-23"),
        ("cron(0 12 32 * ? *)", "day-of-month 32 is outside 1-31"),
        ("cron(0 12 0 * ? *)", "day-of-month 0 is outside 1-31"),
        ("cron(0 12 1 13 ? *)", "month 13 is outside 1-12"),
        ("cron(0 12 1 FOO ? *)", "month has 'FOO', not a number or a name"),
        ("cron(0 12 ? * 0 *)", "day-of-week 0 is outside 1-7"),
        ("cron(0 12 ? * 8 *)", "day-of-week 8 is outside 1-7"),
        ("cron(0 12 ? * MON/2 *)", "day-of-week takes no '/' increments"),
        ("cron(0 12 * * ? 1969)", "year 1969 is outside 1970-2199"),
        ("cron(0 12 * * ? 2200)", "year 2200 is outside 1970-2199"),
        ("cron(30-10 * * * ? *)", "minutes range '30-10' runs backwards"),
        ("cron(0/0 * * * ? *)", "minutes has increment '0', not a positive number"),
        ("cron(x * * * ? *)", "minutes has 'x', not a number"),
        ("cron(0 12 ? * 3#6 *)", "day-of-week '3#6': the instance after '#' is 1-5"),
        ("cron(0 12 ? * 3#1,6#3 *)", "a '#' expression stands alone in the field"),
        ("cron(0 12 ? * 9#1 *)", "day-of-week 9 is outside 1-7"),
        ("cron(0 12 L,15 * ? *)", "'L' and 'nW' stand alone in the field"),
        ("cron(0 12 1-15W * ? *)", "day-of-month 'W' takes one day"),
        ("cron(0 12 32W * ? *)", "day-of-month 32 is outside 1-31"),
        ("cron(0 12 ? * 2L,3 *)", "'nL' stands alone in the field"),
    ],
)
def test_a_bad_cron_says_what_is_wrong(expression: str, problem: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_schedule(expression)
    message = str(raised.value)
    assert message.startswith(f"cron expression {expression!r}: ")
    assert problem in message


def test_the_brief_s_example_message_word_for_word() -> None:
    with pytest.raises(ValidationError) as raised:
        parse_schedule("cron(0 12 * * * *)")
    assert str(raised.value) == (
        "cron expression 'cron(0 12 * * * *)': day-of-month and day-of-week cannot both be "
        "'*'; use '?' in one of them"
    )


# -- at ------------------------------------------------------------------------------------


def test_at_fires_once() -> None:
    parsed = parse_schedule("at(2026-12-07T10:00:00)")
    assert parsed == At("at(2026-12-07T10:00:00)", epoch("2026-12-07T10:00:00"))
    assert next_fire("at(2026-12-07T10:00:00)", "2026-12-07T09:59:59") == "2026-12-07T10:00:00"
    assert next_fire("at(2026-12-07T10:00:00)", "2026-12-07T10:00:00") is None
    assert next_fire("at(2026-12-07T10:00:00)", "2027-01-01T00:00:00") is None


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("at(2026-02-30T10:00:00)", "no such date and time"),
        ("at(2026-12-07T24:00:00)", "no such date and time"),
        ("at(2026-12-07 10:00:00)", "a one-time schedule is at(yyyy-mm-ddThh:mm:ss)"),
        ("at(2026-12-07T10:00)", "a one-time schedule is at(yyyy-mm-ddThh:mm:ss)"),
        ("at(2026-12-07T10:00:00Z)", "a one-time schedule is at(yyyy-mm-ddThh:mm:ss)"),
    ],
)
def test_a_bad_at_says_what_is_wrong(expression: str, problem: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_schedule(expression)
    assert str(raised.value).startswith(f"at expression {expression!r}: {problem}")


@pytest.mark.parametrize(
    "expression", ["every 5 minutes", "rate 5 minutes", "cron(0 12 * * ? *", "", "RATE(1 day)"]
)
def test_what_is_no_schedule_expression_is_refused(expression: str) -> None:
    with pytest.raises(ValidationError, match="is not rate\\(value unit\\), cron\\(fields\\)"):
        parse_schedule(expression)
