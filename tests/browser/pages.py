"""Driving the real admin in headless Chromium: log in, switch language, fill forms, wait for the page,
and keep a screenshot of every step for a person to look at."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

# Seconds an explicit wait gives the page; generous because the machines running the suite are shared.
WAIT_SECONDS = 20
# The password the test users log in with.
PASSWORD = "coupons-browser-2026"


class Screenshots:
    """Numbered PNGs of one test's steps: ``<folder>/01-login.png``, ``02-estimate.png`` ..."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)
        for old in [*folder.glob("*.png"), *folder.glob("*.html")]:  # a rerun replaces the last run's
            old.unlink()

    def take(self, driver: WebDriver, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{slug(step)}.png"
        driver.save_screenshot(str(path))
        return path


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


class AdminBrowser:
    """One Chromium window on the live server, with the waits and steps the flows share."""

    def __init__(self, driver: WebDriver, base_url: str, screenshots: Screenshots) -> None:
        self.driver = driver
        self.base_url = base_url.rstrip("/")
        self.screenshots = screenshots
        self.language = "en"

    # Navigation and waiting ---------------------------------------------------------------------

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)
        self.wait_for_page()

    def wait_for_page(self) -> None:
        self.until(lambda d: d.execute_script("return document.readyState") == "complete", "the page to load")

    def until(self, condition: Callable[[WebDriver], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
        return WebDriverWait(
            self.driver, timeout, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,)
        ).until(condition, message=f"waiting for {what}")

    def find(self, css: str) -> WebElement:
        return self.until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)), css)

    def present(self, css: str) -> WebElement:
        return self.until(ec.presence_of_element_located((By.CSS_SELECTOR, css)), css)

    def text(self, css: str) -> str:
        return self.find(css).text.strip()

    def attribute_becomes(self, css: str, name: str, value: str, timeout: float = WAIT_SECONDS) -> WebElement:
        """Wait until the element (found afresh each time: the page may reload) has ``name=value``."""

        def check(driver: WebDriver) -> WebElement | bool:
            try:
                element = driver.find_element(By.CSS_SELECTOR, css)
                return element if element.get_attribute(name) == value else False
            except (NoSuchElementException, StaleElementReferenceException):
                return False
            except WebDriverException as exc:
                # Read while the page reloads itself: Chromium answers that the element's node has left the
                # document (not always as a stale reference); look again.
                if "does not belong to the document" in str(exc):
                    return False
                raise

        return self.until(check, f"{css}[{name}={value!r}]", timeout)

    def click_and_load(self, css: str) -> None:
        """Click something that leads to another page and wait until that page is there."""
        old = self.driver.find_element(By.CSS_SELECTOR, "html")
        self.find(css).click()
        self.until(ec.staleness_of(old), f"the page after clicking {css}")
        self.wait_for_page()

    def shot(self, step: str, showing: str | None = None) -> Path:
        """Screenshot the window, first scrolling ``showing`` (a CSS selector) into the middle of it."""
        if showing:
            self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", self.present(showing))
        return self.screenshots.take(self.driver, step)

    # Forms --------------------------------------------------------------------------------------

    def type(self, css: str, value: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(value)

    def select(self, css: str, value: str) -> None:
        Select(self.find(css)).select_by_value(value)

    def click(self, css: str) -> None:
        """Click something that changes the page in place (no navigation)."""
        self.until(ec.element_to_be_clickable((By.CSS_SELECTOR, css)), f"{css} to be clickable").click()

    def autocomplete(self, css: str, search: str, choice: str) -> None:
        """Pick ``choice`` in admin's autocomplete (select2) for the <select> at ``css``, typing ``search``."""
        select = self.present(css)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", select)
        select.find_element(By.XPATH, "following-sibling::span[contains(@class, 'select2')]").find_element(
            By.CSS_SELECTOR, ".select2-selection"
        ).click()
        self.find(".select2-container--open .select2-search__field").send_keys(search)

        def pick(driver: WebDriver) -> bool:
            # Found and clicked in one try: select2 redraws its list when the search answers, and an option
            # found before a redraw is stale (the wait then looks again).
            for option in driver.find_elements(By.CSS_SELECTOR, ".select2-results__option"):
                if option.text.strip() == choice:
                    option.click()
                    return True
            return False

        self.until(pick, f"{choice!r} among the choices for {search!r}")
        self.until(
            lambda d: choice in [o.text.strip() for o in Select(select).all_selected_options], f"{choice!r} picked"
        )

    def check(self, css: str) -> None:
        box = self.find(css)
        if not box.is_selected():
            box.click()

    # Session ------------------------------------------------------------------------------------

    def use_language(self, language: str) -> None:
        """Pick the language with the switcher on the login page (Django's ``set_language``)."""
        self.driver.delete_all_cookies()
        self.open("/admin/login/")
        if self.present("html").get_attribute("lang") != language:
            old = self.driver.find_element(By.CSS_SELECTOR, "html")
            self.select("#language-select", language)  # the switcher submits itself on change
            self.until(ec.staleness_of(old), "the page in the new language")
            self.wait_for_page()
        self.attribute_becomes("html", "lang", language)
        self.language = language

    def log_in(self, username: str, then: str = "/admin/") -> None:
        """Log in through admin's own login form, landing on ``then``; whoever was logged in before is
        logged out first (the language cookie stays)."""
        self.driver.delete_cookie("sessionid")
        self.open(f"/admin/login/?next={then}")
        self.type("#id_username", username)
        self.type("#id_password", PASSWORD)
        self.click_and_load("#login-form [type=submit]")
        self.find("#user-tools")
        self.attribute_becomes("html", "lang", self.language)
