"""Finding and starting the system Chromium: Debian's ``chromium`` and ``chromedriver``, never a download."""

from __future__ import annotations

import os
import shutil

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from tests.required import unavailable


def find_chromium() -> tuple[str, str]:
    """The browser and its driver: ``CHROMIUM_BINARY`` / ``CHROMEDRIVER`` if set, else from ``PATH``."""
    binary = os.environ.get("CHROMIUM_BINARY") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if not binary or not driver:
        unavailable("the browser tests need chromium and chromedriver (apt-get install chromium chromium-driver)")
    assert binary and driver
    return binary, driver


def start_chromium(binary: str, driver_path: str, *, window: tuple[int, int]) -> WebDriver:
    # Both paths are given, so Selenium Manager is never asked; SE_OFFLINE stops it downloading anyway.
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI containers run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-sync",
        "--no-first-run",
        "--password-store=basic",
        "--force-device-scale-factor=1",
        "--lang=en-US",
        f"--window-size={window[0]},{window[1]}",
    ):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs", {"credentials_enable_service": False, "profile.password_manager_enabled": False}
    )
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_window_size(*window)
    return driver
