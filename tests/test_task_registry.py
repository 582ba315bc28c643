"""Services hand work to tasks by name (``core.jobs.enqueue``): every process knows them after setup."""

import subprocess
import sys

PROBE = """
import django
django.setup()
from celery import current_app
import sys
names = {"marketing.tasks.run_bulk_grant", "marketing.tasks.announce_bulk_grant",
         "marketing.tasks.fire_trigger_task", "marketing.tasks.send_notifications"}
missing = sorted(names - set(current_app.tasks))
print(missing)
sys.exit(1 if missing else 0)
"""


def test_a_fresh_web_process_knows_every_task_a_service_enqueues_by_name():
    # given: a new interpreter that only sets Django up, as gunicorn does (no worker, no autodiscovery)
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)

    # then
    assert result.returncode == 0, result.stdout + result.stderr
