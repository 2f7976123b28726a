"""The CRM demo company, built once per test run, and the pages a signed-in person can open
in it: what the Chinese-text and phone-layout tests walk through."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

from formflow.config import Settings, load_settings
from formflow.definitions import load_app
from formflow.lifecycle.demos import load_demo
from support import CRM_APP

DEMO_PASSWORD = "demo1234"
APP_KEY = "crm_sfa"
TODAY = date(2025, 6, 16)


def build_demo(folder: Path) -> Path:
    """An instance folder holding the CRM demo company (seeded, so always the same)."""
    settings = demo_settings(folder)
    load_demo(CRM_APP).build(settings, seed=7, today=TODAY)
    return folder


def copy_demo(template: Path, folder: Path) -> Settings:
    shutil.copytree(template, folder)
    return demo_settings(folder)


def demo_settings(folder: Path) -> Settings:
    return load_settings(
        {"FORMFLOW_INSTANCE": str(folder), "FORMFLOW_APPS": str(CRM_APP)}, secure_cookies=False
    )


def form_keys() -> list[str]:
    return sorted(load_app(CRM_APP).forms)


def record_address(list_html: str, form_key: str) -> str | None:
    """The first record page a list page links to."""
    found = re.search(rf'href="(/{APP_KEY}/{form_key}/\d+)"', list_html)
    return found[1] if found else None


def admin_pages(users_html: str, departments_html: str) -> list[str]:
    """The administration pages: the lists, the new-user form and one of each edit page."""
    user = re.search(r'href="(/admin/users/\d+)"', users_html)
    department = re.search(r'href="(/admin/departments/\d+)"', departments_html)
    found = ["/admin/users", "/admin/users/new", "/admin/departments", "/admin/jobs/dead"]
    return found + [m[1] for m in (user, department) if m]
