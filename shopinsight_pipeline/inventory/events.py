"""Sales events (promotions, sales days) the product demand forecast must know of. Pure.

A planner keeps the shop's calendar of events in `landing/calendar/sales_events.csv`:

    name,first_day,last_day,expected_uplift
    autumn sale,2026-09-14,2026-09-15,2.6

`expected_uplift` (optional) multiplies an ordinary day's demand on the event's days. Left empty, the
forecast uses the uplift measured on the past events in its history (assortment units on the event's
days against the same weekdays of the four weeks before), or none (1.0, with a note) when there is
no past event to measure.

Why it matters: replayed on the sample (bench/inventory_policy.py), a two-day sale in the lead time
was the whole of the lead-time quantile's shortfall: with the sale unknown, demand over the lead
time stayed under the 95% reorder point on 77% of the product-days whose lead time held the sale and
on 99% of the others. A past event's days are also left out of every fit (like a stock-out day,
they are not ordinary demand): a spike read as ordinary demand raises the level and widens the
errors for weeks after.
"""

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

EVENT_COLUMNS = ("name", "first_day", "last_day", "expected_uplift")
MAX_EVENT_DAYS = 31  # a longer "event" is a season, which the methods' level follows on its own
BASELINE_WEEKS = 4  # an event day's ordinary demand: the same weekday of this many weeks before


class SalesEventsError(ValueError):
    """A calendar row the forecast cannot use; the message names the file, line and rule."""


@dataclass(frozen=True)
class SalesEvent:
    name: str
    first_day: date
    last_day: date
    expected_uplift: float | None = None  # None: measured on past events

    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=step) for step in range((self.last_day - self.first_day).days + 1)]


def parse_sales_events(text: str, source: str) -> list[SalesEvent]:
    """The calendar's events, in file order. Any bad row fails the whole file, naming the line and
    the rule: a forecast planned on half a calendar would be wrong without saying so."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in EVENT_COLUMNS[:3] if column not in (reader.fieldnames or [])]
    if missing:
        raise SalesEventsError(f"{source} line 1: missing column(s) {missing}; expected {list(EVENT_COLUMNS)}")
    events: list[SalesEvent] = []
    taken: dict[date, str] = {}
    for line, row in enumerate(reader, start=2):
        name = (row.get("name") or "").strip()
        if not name:
            raise SalesEventsError(f"{source} line {line}: rule event_named: the event has no name")
        try:
            first, last = date.fromisoformat(row["first_day"].strip()), date.fromisoformat(row["last_day"].strip())
        except (ValueError, AttributeError) as error:
            raise SalesEventsError(f"{source} line {line}: rule iso_dates: {name!r}: {error}") from None
        if last < first or (last - first).days >= MAX_EVENT_DAYS:
            raise SalesEventsError(
                f"{source} line {line}: rule event_span: {name!r} runs {first} to {last}; "
                f"an event lasts 1 to {MAX_EVENT_DAYS} days"
            )
        uplift_text = (row.get("expected_uplift") or "").strip()
        uplift = None
        if uplift_text:
            try:
                uplift = float(uplift_text)
            except ValueError:
                uplift = float("nan")
            if not 0 < uplift < 100:
                raise SalesEventsError(
                    f"{source} line {line}: rule uplift_positive: {name!r} expected_uplift {uplift_text!r} "
                    "is not a number above 0 (1.0: an ordinary day; empty: measure it on past events)"
                )
        event = SalesEvent(name, first, last, uplift)
        clash = next((taken[day] for day in event.days() if day in taken), None)
        if clash is not None:
            raise SalesEventsError(f"{source} line {line}: rule no_overlap: {name!r} shares days with {clash!r}")
        taken.update(dict.fromkeys(event.days(), name))
        events.append(event)
    return events


@dataclass
class EventDays:
    """The events on a run of days (a forecast's history, then its days ahead)."""

    event_of: np.ndarray  # per day: the index of its event in `events`, -1 on an ordinary day
    events: list[SalesEvent]

    @property
    def marked(self) -> np.ndarray:
        return self.event_of >= 0

    def measured_uplift(self, totals: np.ndarray, before: int) -> float | None:
        """Units on the event days before day `before` (`totals`: the assortment's units per history
        day) over the same weekdays of the weeks before them that were ordinary days; None without
        such a day."""
        event_units = baseline_units = 0.0
        for day in np.flatnonzero(self.marked[: min(before, totals.size)]):
            earlier = [day - 7 * week for week in range(1, BASELINE_WEEKS + 1)]
            ordinary = [past for past in earlier if past >= 0 and not self.marked[past]]
            if ordinary:
                event_units += totals[day]
                baseline_units += totals[ordinary].mean()
        return event_units / baseline_units if baseline_units > 0 else None

    def factors(self, totals: np.ndarray, before: int) -> tuple[np.ndarray, list[str]]:
        """Per day: what an ordinary day's demand is multiplied by, as known with the history before
        day `before` (an event's expected uplift, else the one measured on the events before it, else
        1), and a note per event on or after `before` that says which."""
        factors = np.ones(self.event_of.size)
        measured = self.measured_uplift(totals, before)
        notes = []
        for number in sorted(set(self.event_of[before:].tolist()) - {-1}):
            event = self.events[number]
            if event.expected_uplift is not None:
                uplift, why = event.expected_uplift, "the calendar's expected uplift"
            elif measured is not None:
                uplift, why = measured, "measured on the past events in the history"
            else:
                uplift, why = 1.0, "no expected uplift and no past event to measure one on: forecast as ordinary days"
            factors[self.event_of == number] = uplift
            notes.append(f"sales event {event.name!r} ({event.first_day} to {event.last_day}): x{uplift:.2f}, {why}")
        factors[:before] = 1.0
        return factors, notes


def event_days(events: list[SalesEvent], first_day: date, days: int) -> EventDays:
    """Which of the `days` days from `first_day` fall in an event."""
    event_of = np.full(days, -1)
    for number, event in enumerate(events):
        for day in event.days():
            offset = (day - first_day).days
            if 0 <= offset < days:
                event_of[offset] = number
    return EventDays(event_of, events)
