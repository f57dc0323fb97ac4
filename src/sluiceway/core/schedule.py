"""EventBridge schedule expressions (pure, no I/O): ``rate(5 minutes)``,
``cron(0 12 ? * MON-FRI *)`` and ScheduleV2's one-time ``at(2026-12-07T10:00:00)``.

`parse_schedule` checks an expression as EventBridge does and says what is wrong with a bad
one; `next_after` gives a schedule's next fire time strictly after a moment, in UTC epoch
seconds. A rate counts its periods from when the schedule was created (its `anchor`); cron
and at ignore the anchor. The cron fields follow EventBridge's reference: minutes, hours,
day-of-month, month, day-of-week (1-7 = SUN-SAT) and year (1970-2199), with ``, - * /``,
``?`` in exactly one of the two day fields, ``L`` and ``W`` in day-of-month, ``L`` and
``#`` in day-of-week.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeAlias

from sluiceway.core.errors import ValidationError

_UNITS = {"minute": 60, "hour": 3600, "day": 86_400}
_MONTHS = {name.upper(): n for n, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS = {name: n for n, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI"), 1)}
_WEEKDAYS["SAT"] = 7
_AT = re.compile(r"at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)")
FIRST_YEAR, LAST_YEAR = 1970, 2199


@dataclass(frozen=True)
class Rate:
    """``rate(value unit)``: every `seconds`, counted from the anchor."""

    expression: str
    seconds: int

    def next_after(self, epoch_seconds: float, anchor: float = 0.0) -> float | None:
        periods = max(0, int((epoch_seconds - anchor) // self.seconds))
        return anchor + (periods + 1) * self.seconds


@dataclass(frozen=True)
class At:
    """``at(yyyy-mm-ddThh:mm:ss)``: once, at `when` (UTC epoch seconds)."""

    expression: str
    when: float

    def next_after(self, epoch_seconds: float, anchor: float = 0.0) -> float | None:
        return self.when if self.when > epoch_seconds else None


@dataclass(frozen=True)
class MonthDays:
    """The day-of-month field: days by number, ``L`` (the last) and ``nW`` (the weekday
    nearest the nth)."""

    numbers: frozenset[int] = frozenset()
    last: bool = False
    nearest_weekday: int | None = None

    def days(self, year: int, month: int) -> set[int]:
        length = calendar.monthrange(year, month)[1]
        days = {d for d in self.numbers if d <= length}
        if self.last:
            days.add(length)
        if self.nearest_weekday is not None and self.nearest_weekday <= length:
            days.add(_nearest_weekday(year, month, self.nearest_weekday, length))
        return days


@dataclass(frozen=True)
class WeekDays:
    """The day-of-week field (1 = SUN ... 7 = SAT): days of the week, ``nL`` (the month's
    last such day) and ``n#k`` (its kth)."""

    numbers: frozenset[int] = frozenset()
    last_of: int | None = None
    nth: tuple[int, int] | None = None

    def days(self, year: int, month: int) -> set[int]:
        length = calendar.monthrange(year, month)[1]
        days = {d for d in range(1, length + 1) if _weekday(year, month, d) in self.numbers}
        if self.last_of is not None:
            days.add(max(d for d in range(length - 6, length + 1) if self._is(year, month, d)))
        if self.nth is not None:
            weekday, k = self.nth
            first = next(d for d in range(1, 8) if _weekday(year, month, d) == weekday)
            if first + 7 * (k - 1) <= length:
                days.add(first + 7 * (k - 1))
        return days

    def _is(self, year: int, month: int, day: int) -> bool:
        return _weekday(year, month, day) == self.last_of


@dataclass(frozen=True)
class Cron:
    """``cron(minutes hours day-of-month month day-of-week year)``, in UTC."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: MonthDays | WeekDays
    months: tuple[int, ...]
    years: tuple[int, ...]

    def next_after(self, epoch_seconds: float, anchor: float = 0.0) -> float | None:
        start = datetime.fromtimestamp((epoch_seconds // 60 + 1) * 60, UTC)
        for day in self._dates(start):
            same_day = day == start.date()
            for hour in self.hours:
                if same_day and hour < start.hour:
                    continue
                for minute in self.minutes:
                    if same_day and hour == start.hour and minute < start.minute:
                        continue
                    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                    return moment.timestamp()
        return None

    def _dates(self, start: datetime) -> Iterator[date]:
        """The days the schedule fires on, from `start`'s day on."""
        for year in (y for y in self.years if y >= start.year):
            for month in self.months:
                if (year, month) < (start.year, start.month):
                    continue
                for day in sorted(self.days.days(year, month)):
                    if (year, month, day) >= (start.year, start.month, start.day):
                        yield date(year, month, day)


Schedule: TypeAlias = Rate | Cron | At


def parse_schedule(expression: str) -> Schedule:
    """The schedule an EventBridge expression stands for; a bad one raises
    `ValidationError` saying what is wrong."""
    if not isinstance(expression, str):
        raise ValidationError(f"schedule expression {expression!r} is not a string")
    if expression.startswith("rate(") and expression.endswith(")"):
        return _rate(expression)
    if expression.startswith("cron(") and expression.endswith(")"):
        return _cron(expression)
    if expression.startswith("at(") and expression.endswith(")"):
        return _at(expression)
    raise ValidationError(
        f"schedule expression {expression!r} is not rate(value unit), cron(fields) or "
        "at(yyyy-mm-ddThh:mm:ss)"
    )


def _rate(expression: str) -> Rate:
    def bad(problem: str) -> ValidationError:
        return ValidationError(f"rate expression {expression!r}: {problem}")

    parts = expression[len("rate(") : -1].split(" ")
    if len(parts) != 2:
        raise bad("a rate is a value and a unit separated by one space, e.g. rate(5 minutes)")
    value, unit = parts
    if not value.isdigit() or int(value) < 1:
        raise bad(f"the value {value!r} is not a positive whole number")
    count = int(value)
    singular = unit.removesuffix("s")
    if singular not in _UNITS:
        raise bad(f"the unit {unit!r} is not minute(s), hour(s) or day(s)")
    if count == 1 and unit != singular:
        raise bad(f"a value of 1 takes the singular unit: rate(1 {singular})")
    if count > 1 and unit == singular:
        raise bad(f"a value above 1 takes the plural unit: rate({count} {singular}s)")
    return Rate(expression, count * _UNITS[singular])


def _at(expression: str) -> At:
    found = _AT.fullmatch(expression)
    problem = "a one-time schedule is at(yyyy-mm-ddThh:mm:ss), e.g. at(2026-12-07T10:00:00)"
    if found is not None:
        try:
            year, month, day, hour, minute, second = map(int, found.groups())
            when = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError as error:
            problem = f"no such date and time ({error})"
        else:
            return At(expression, when.timestamp())
    raise ValidationError(f"at expression {expression!r}: {problem}")


# -- cron ---------------------------------------------------------------------------------


class _Field:
    def __init__(self, name: str, low: int, high: int, names: dict[str, int] | None = None) -> None:
        self.name, self.low, self.high, self.names = name, low, high, names or {}

    def value(self, text: str) -> int:
        number = self.names.get(text.upper()) if self.names else None
        if number is None:
            if not text.isdigit():
                raise _Bad(f"{self.name} has {text!r}, not a number{self._named()}")
            number = int(text)
        if not self.low <= number <= self.high:
            raise _Bad(f"{self.name} {number} is outside {self.low}-{self.high}")
        return number

    def _named(self) -> str:
        return f" or a name ({next(iter(self.names))}...)" if self.names else ""

    def values(self, text: str, *, steps: bool = True) -> tuple[int, ...]:
        """The values of a field of ``*``, numbers, ranges, lists and increments."""
        found: set[int] = set()
        for item in text.split(","):
            found.update(self._item(item, steps))
        return tuple(sorted(found))

    def _item(self, item: str, steps: bool) -> range:
        base, slash, step_text = item.partition("/")
        if slash and not steps:
            raise _Bad(f"{self.name} takes no '/' increments ({item!r})")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise _Bad(f"{self.name} has increment {step_text!r}, not a positive number")
            step = int(step_text)
        if base == "*":
            return range(self.low, self.high + 1, step)
        first, dash, last = base.partition("-")
        start = self.value(first)
        end = self.value(last) if dash else (self.high if slash else start)
        if end < start:
            raise _Bad(f"{self.name} range {base!r} runs backwards")
        return range(start, end + 1, step)


class _Bad(Exception):
    """A problem with one field, before the expression is named."""


_FIELDS = (
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 1, 7, _WEEKDAYS),
    _Field("year", FIRST_YEAR, LAST_YEAR),
)


def _cron(expression: str) -> Cron:
    fields = expression[len("cron(") : -1].split()
    try:
        if len(fields) != 6:
            raise _Bad(
                f"a cron expression has 6 fields (minutes hours day-of-month month "
                f"day-of-week year), not {len(fields)}"
            )
        minutes, hours, month_day, month, week_day, year = fields
        return Cron(
            expression,
            _FIELDS[0].values(minutes),
            _FIELDS[1].values(hours),
            _day_rule(month_day, week_day),
            _FIELDS[3].values(month),
            _FIELDS[5].values(year),
        )
    except _Bad as bad:
        raise ValidationError(f"cron expression {expression!r}: {bad}") from None


def _day_rule(month_day: str, week_day: str) -> MonthDays | WeekDays:
    if month_day == "?" and week_day == "?":
        raise _Bad(
            "day-of-month and day-of-week cannot both be '?'; give one of them a value or '*'"
        )
    if month_day == "*" and week_day == "*":
        raise _Bad("day-of-month and day-of-week cannot both be '*'; use '?' in one of them")
    if month_day != "?" and week_day != "?":
        raise _Bad(
            f"day-of-month {month_day!r} and day-of-week {week_day!r} cannot both be given; "
            "use '?' in one of them"
        )
    return _month_days(month_day) if week_day == "?" else _week_days(week_day)


def _month_days(text: str) -> MonthDays:
    field = _FIELDS[2]
    if text == "L":
        return MonthDays(last=True)
    if text.endswith("W"):
        if "," in text or "-" in text or "/" in text:
            raise _Bad(f"day-of-month 'W' takes one day, as in '15W', not {text!r}")
        return MonthDays(nearest_weekday=field.value(text[:-1]))
    if "L" in text or "W" in text:
        raise _Bad(f"day-of-month {text!r}: 'L' and 'nW' stand alone in the field")
    return MonthDays(frozenset(field.values(text)))


def _week_days(text: str) -> WeekDays:
    field = _FIELDS[4]
    if "#" in text:
        weekday, _, k = text.partition("#")
        if "," in text or "-" in text:
            raise _Bad(f"day-of-week {text!r}: a '#' expression stands alone in the field")
        if not k.isdigit() or not 1 <= int(k) <= 5:
            raise _Bad(f"day-of-week {text!r}: the instance after '#' is 1-5")
        return WeekDays(nth=(field.value(weekday), int(k)))
    if text == "L":
        return WeekDays(frozenset({7}))  # the last day of the week: Saturday
    if "L" in text:  # no day's name holds an L
        if "," in text or "-" in text or not text.endswith("L"):
            raise _Bad(f"day-of-week {text!r}: 'nL' stands alone in the field")
        return WeekDays(last_of=field.value(text[:-1]))
    return WeekDays(frozenset(field.values(text, steps=False)))


def _weekday(year: int, month: int, day: int) -> int:
    """EventBridge's day of the week: 1 = SUN ... 7 = SAT."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int, length: int) -> int:
    """The weekday (MON-FRI) nearest `day`, without leaving the month."""
    weekday = _weekday(year, month, day)
    if weekday == 7:  # Saturday: the Friday before, or the Monday after the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 1:  # Sunday: the Monday after, or the Friday before the month's end
        return day + 1 if day < length else day - 2
    return day
