"""How long the original data is kept (issue 27.4): which days of the landing files and the bronze
tables have passed their retention period. Pure; the scheduled job (retention_job.py) deletes them.

Landing files and bronze keep what customers typed, as they typed it (the restricted zone); silver
and gold keep only masked text and pseudonyms, so they are not purged by age.
"""

from datetime import date, timedelta


def expired(days: list[date], today: date, keep_days: int) -> list[date]:
    """The days older than `keep_days` before `today` (a day exactly `keep_days` old is kept)."""
    if keep_days < 1:
        raise ValueError(f"keep at least one day of originals, got keep_days={keep_days}")
    oldest_kept = today - timedelta(days=keep_days)
    return sorted(day for day in days if day < oldest_kept)
