"""Importing a small file from the list page in a real browser: map, preview, import."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect


def sign_in(page: Page, served: str) -> None:
    page.goto(f"{served}/login")
    page.fill("#username", "admin")
    page.fill("#password", "password-1")
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_count(1)


def test_a_file_is_mapped_previewed_and_imported(page: Page, served: str, tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    source.write_text(
        "客户名称,来源,备注\nAcme Ltd,官网咨询,x\nBolt Co,nowhere,y\n", encoding="utf-8"
    )
    sign_in(page, served)
    page.goto(f"{served}/crm_sfa/customer/")
    page.get_by_role("link", name="导入").click()
    page.set_input_files("#import-file", str(source))
    page.get_by_role("button", name="上传").click()

    name_select = page.get_by_label("列 客户名称 对应的字段")
    expect(name_select).to_have_value("name")
    page.get_by_label("列 来源 对应的字段").select_option("source")
    page.get_by_role("button", name="预览").click()
    preview = page.locator("#preview-table")
    expect(preview.locator("tbody tr").first).to_contain_text("website")
    expect(preview.locator("tbody tr").nth(1).locator(".error")).to_have_count(1)

    page.get_by_role("button", name="导入", exact=True).click()
    expect(page.locator("[data-count=created]")).to_have_text("1")
    expect(page.locator("[data-count=failed]")).to_have_text("1")
    expect(page.get_by_role("link", name="下载错误报告")).to_be_visible()
