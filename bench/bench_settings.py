"""The production settings, unchanged, for the benchmarks (served over plain HTTP on 127.0.0.1 through
the environment ``bench/_server.py`` sets)."""

from config.settings.production import *  # noqa: F403
