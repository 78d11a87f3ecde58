"""The chat UI in a real browser: Playwright driving Debian's chromium (`make browser` installs it).

Asks the 30 June question, opens the cited source and checks the highlighted span; uploads an
article full of markup and checks that nothing ran and the text shows literally; saves
`docs/screenshot.png` for the README.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
SCREENSHOT = REPO / "docs" / "screenshot.png"
CHROMIUM = Path(os.environ.get("HOIDAP_TEST_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
XSS_ARTICLE = (
    " date 2022-08 (KTM)- Lễ hội cồng chiêng Kon Tum năm nay có 321 nghệ nhân tham gia, "
    'kèm thẻ <script>window.__xss=1</script> và ảnh <img src=x onerror="window.__xss=2"> '
    "cùng liên kết [bấm vào đây](javascript:window.__xss=3) để kiểm tra an toàn.\n\n"
    # gr.HTML evaluates its template as Handlebars and a JS template literal: data must not be.
    "Mẫu ${window.__xss=6} và {{#with this}}{{/with}} cũng chỉ là chữ.\n\n"
    "Các đội cồng chiêng đến từ 10 huyện, thành phố trong tỉnh.\n\nTRẦN VĂN B\n"
)
Q_XSS = "Lễ hội cồng chiêng Kon Tum có bao nhiêu nghệ nhân tham gia?"

REQUESTS: list[str] = []  # every URL the page fetched

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_url(served):
    return served[0]


@pytest.fixture(scope="module")
def page(app_url, tmp_path_factory):
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make browser` installs it")
        pytest.skip(f"{CHROMIUM} is missing: run `make browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        page = context.new_page()
        page.on("request", lambda request: REQUESTS.append(request.url))
        page.set_default_timeout(60_000)
        page.goto(app_url)
        page.wait_for_selector("#hoidap-question textarea")
        yield page
        context.close()


def ask(page, question: str) -> None:
    page.fill("#hoidap-question textarea", question)
    page.keyboard.press("Enter")


def test_ask_open_the_source_and_see_the_highlight(page):
    from playwright.sync_api import expect

    expect(page.locator("#hoidap-stats")).to_contain_text("1 bài báo")
    ask(page, "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?")
    expect(page.locator("#hoidap-chat")).to_contain_text("787")
    card = page.locator('#hoidap-cards [data-cite="1"]')
    expect(card).to_contain_text("787")
    expect(card).to_contain_text("Báo Gia Lai")
    card.click()
    mark = page.locator("#hoidap-article mark#hoidap-cited")
    expect(mark).to_contain_text("kết nạp được 787 đảng viên")
    # Scrolled into view inside the article panel.
    page.wait_for_function(
        """() => {
            const m = document.querySelector('#hoidap-article mark#hoidap-cited');
            const box = m.closest('.hoidap-article').getBoundingClientRect();
            const r = m.getBoundingClientRect();
            return r.top >= box.top - 1 && r.top < box.bottom;
        }"""
    )
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    ask(page, "Còn bao nhiêu đảng viên bị kỷ luật?")
    expect(page.locator("#hoidap-chat")).to_contain_text("129")
    expect(page.locator("#hoidap-cards")).to_contain_text("129")

    page.get_by_text("Cuộc hội thoại mới").click()
    expect(page.locator("#hoidap-chat")).not_to_contain_text("787")
    expect(page.locator("#hoidap-cards [data-cite]")).to_have_count(0)


def test_upload_shows_markup_as_text_and_runs_nothing(page, tmp_path):
    from playwright.sync_api import expect

    upload = tmp_path / 'cồng chiêng <img src=x onerror="window.__xss=4">.txt'
    upload.write_text(XSS_ARTICLE, encoding="utf-8")
    page.get_by_text("Thêm bài báo (").first.click()
    page.locator("#hoidap-upload input[type=file]").set_input_files(str(upload))
    table = page.locator("#hoidap-upload-table")
    expect(table).to_contain_text("thêm mới", timeout=120_000)
    expect(table).to_contain_text("cồng chiêng")
    expect(page.locator("#hoidap-stats")).to_contain_text("2 bài báo")

    ask(page, Q_XSS)
    expect(page.locator("#hoidap-chat")).to_contain_text("321")
    card = page.locator('#hoidap-cards [data-cite="1"]')
    expect(card).to_contain_text("<script>window.__xss=1</script>")
    card.click()
    article = page.locator("#hoidap-article")
    expect(article.locator("mark")).to_contain_text("321")
    expect(article).to_contain_text('<img src=x onerror="window.__xss=2">')
    expect(article).to_contain_text("[bấm vào đây](javascript:window.__xss=3)")
    expect(article).to_contain_text("Mẫu ${window.__xss=6} và {{#with this}}{{/with}}")
    expect(page.locator("#hoidap-chat")).to_contain_text("<script>window.__xss=1</script>")

    page.wait_for_timeout(500)  # give any injected handler the chance to fire
    assert page.evaluate("typeof window.__xss") == "undefined"
    for where in ("#hoidap-chat", "#hoidap-cards", "#hoidap-article", "#hoidap-upload-table"):
        assert page.locator(f"{where} img, {where} script").count() == 0, where
    assert page.locator('a[href^="javascript"]').count() == 0


def expect_language_selected(page, selected: str, other: str) -> None:
    """The switch shows its state: the chosen option checked and drawn as selected."""
    from playwright.sync_api import expect

    expect(page.get_by_role("radio", name=selected, exact=True)).to_be_checked()
    expect(page.get_by_role("radio", name=other, exact=True)).not_to_be_checked()
    label = page.locator("label", has=page.get_by_role("radio", name=selected, exact=True))
    expect(label).to_have_class(re.compile(r"\bselected\b"))
    unselected = page.locator("label", has=page.get_by_role("radio", name=other, exact=True))
    expect(unselected).not_to_have_class(re.compile(r"\bselected\b"))


def test_language_switch(page):
    from playwright.sync_api import expect

    expect_language_selected(page, "Tiếng Việt", "English")
    page.get_by_text("English", exact=True).click()
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    expect_language_selected(page, "English", "Tiếng Việt")
    expect(page.locator("#hoidap-stats")).to_contain_text("2 articles")
    expect(page.get_by_text("New conversation")).to_be_visible()
    table = page.locator("#hoidap-upload-table")
    expect(table).to_contain_text("added")
    expect(table).to_contain_text("File")
    expect(page.locator("#hoidap-article mark")).to_contain_text("321")  # still open
    page.get_by_text("Tiếng Việt", exact=True).click()
    expect(page.get_by_role("button", name="Gửi", exact=True)).to_be_visible()
    expect_language_selected(page, "Tiếng Việt", "English")
    expect(table).to_contain_text("thêm mới")


def test_the_language_radio_shows_its_state_after_each_switch(page):
    """Issue 13: after switching to English neither option showed as selected."""
    from playwright.sync_api import expect

    for selected, other, send in (
        ("English", "Tiếng Việt", "Send"),
        ("Tiếng Việt", "English", "Gửi"),
    ):
        page.get_by_text(selected, exact=True).click()
        expect(page.get_by_role("button", name=send, exact=True)).to_be_visible()
        page.wait_for_timeout(300)  # the switch's own update of the radio has come back
        expect_language_selected(page, selected, other)


def test_error_messages_show_markup_as_text(page):
    from playwright.sync_api import expect

    page.get_by_text("Bộ lọc", exact=True).click()
    since = page.get_by_label("Từ ngày (YYYY[-MM[-DD]])")
    since.fill('<img src=x onerror="window.__xss=5">')
    ask(page, "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?")
    toast = page.get_by_test_id("toast-body").last
    expect(toast).to_contain_text("Invalid since date '<img src=x onerror=\"window.__xss=5\">'")
    assert page.locator("[data-testid=toast-body] img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    since.fill("")


def test_the_page_fetches_nothing_from_outside(page, app_url):
    """Offline by construction: no fonts, scripts or analytics from other hosts."""
    assert REQUESTS and all(url.startswith(app_url) for url in REQUESTS), [
        u for u in REQUESTS if not u.startswith(app_url)
    ]
