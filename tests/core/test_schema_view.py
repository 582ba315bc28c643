"""The schema is served right to requests that arrive together in a fresh threaded process."""

import subprocess
import sys

PROBE = """
import threading
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
statuses = []
start = threading.Barrier(8)

def fetch():
    start.wait()
    statuses.append(Client().get("/api/schema/").status_code)

threads = [threading.Thread(target=fetch) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(statuses)
raise SystemExit(0 if statuses == [200] * 8 else 1)
"""


def test_eight_first_requests_at_once_all_get_the_schema():
    # when: a new process (no schema built yet) gets eight requests for it at the same moment
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=180)

    # then
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
