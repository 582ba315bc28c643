"""Roll the daily stats up again for past business days (the Beat job keeps only today and yesterday)."""

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError

from core.clock import business_today
from coupons.services.stats import stats_rollup_day

MAX_DAYS = 3660


class Command(BaseCommand):
    help = (
        "Roll up the per-template daily stats of every business day from --since to today (after Beat or the "
        "workers were down for more than a day, or to rebuild the dashboard's history)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="the first business day, YYYY-MM-DD")

    def handle(self, *args, **options):
        try:
            first = date.fromisoformat(options["since"])
        except ValueError as exc:
            raise CommandError(f"--since must be a day as YYYY-MM-DD, not {options['since']!r}") from exc
        today = business_today()
        if first > today:
            raise CommandError(f"--since {first} is after today ({today})")
        days = (today - first).days + 1
        if days > MAX_DAYS:
            raise CommandError(f"--since {first} is more than {MAX_DAYS} days ago")
        rows = sum(stats_rollup_day(day=first + timedelta(days=offset)) for offset in range(days))
        self.stdout.write(self.style.SUCCESS(f"Rolled up {days} days from {first} to {today}: {rows} template-days"))
