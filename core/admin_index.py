"""The parts of the admin index's dashboard; each app adds its own in ``AppConfig.ready``.

Kept apart from ``core.admin_site`` (which loads the login form and its models) so that an app config can
import it while the app registry is still being filled.
"""

from collections.abc import Callable
from typing import Any

from core.dayrange import DayRange

IndexSection = Callable[[DayRange], dict[str, Any]]
_index_sections: dict[str, IndexSection] = {}


def add_index_section(name: str, section: IndexSection) -> None:
    """Show ``section(range)``'s context on the admin index, for the range of business days picked there."""
    _index_sections[name] = section


def index_sections() -> list[IndexSection]:
    return list(_index_sections.values())
