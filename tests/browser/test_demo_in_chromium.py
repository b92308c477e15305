"""04_demo in a real browser (JupyterLab, headless Chromium): type a message and see its label; for an
image model, upload a picture through the FileUpload widget and see its label."""

from __future__ import annotations

import pytest

import hackkit as hk
from helpers import make_image_folder

pytestmark = pytest.mark.browser

MESSAGE = "my parcel never arrived and nobody answers my emails"

# ipywidgets' FileUpload keeps its <input type=file> out of the page and clicks it from the button,
# which in headless Chromium opens a chooser nobody can answer. This puts the input into the page
# instead when the button clicks it, so chromedriver can choose a file in it as a user would.
FILE_INPUT_INTO_PAGE = """
const click = HTMLInputElement.prototype.click;
HTMLInputElement.prototype.click = function () {
  if (this.type !== 'file') return click.call(this);
  this.classList.add('hackkit-test-file-input');
  document.body.appendChild(this);
};
"""


def test_demo_notebook_predicts_what_is_typed_in_chromium(open_notebook, tiny_run, copy_run, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    run = copy_run(tiny_run, "runs/tiny")  # 04 writes the model card into the run
    expected = hk.Predictor.from_run(run, device="cpu").predict(MESSAGE)[0]["label"]
    page = open_notebook("04_demo.ipynb", env={"HACKKIT_RUNS_DIR": str(run.parent)})  # RUN_DIR="" finds it
    try:
        box = page.element(".hackkit-demo-input textarea", 180, "the demo widget's text box")
        page.wait(lambda d: "Predicted:" in page.text(".hackkit-demo-result"), 60, "the example's prediction")
        box.click()
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.BACKSPACE)  # live prediction of the empty box asks for a message
        page.wait(lambda d: "Type a message" in page.text(".hackkit-demo-result"), 30, "the empty-box prompt")
        box.send_keys(MESSAGE)
        page.driver.find_element(By.CSS_SELECTOR, "button.hackkit-demo-predict").click()
        shown = page.wait(lambda d: page.text(".hackkit-demo-result .hackkit-demo-label"), 60, "the label")
        assert shown == expected
        assert box.get_attribute("value") == MESSAGE
    finally:
        shot = page.screenshot(tmp_path / "04_demo.png", centre_on=".hackkit-demo-input")
    assert shot.stat().st_size > 10_000


def test_demo_notebook_predicts_an_uploaded_image_in_chromium(open_notebook, image_run, copy_run, tmp_path):
    from selenium.webdriver.common.by import By

    run = copy_run(image_run, "runs/img")  # 04 writes the model card into the run
    picture = make_image_folder(tmp_path / "upload", per_class=1, labels=("star",), seed=7) / "star" / "star_0.jpg"
    expected = hk.Predictor.from_run(run, device="cpu").predict([str(picture)])[0]
    page = open_notebook("04_demo.ipynb", env={"HACKKIT_RUNS_DIR": str(run.parent)})
    try:
        button = page.element(".hackkit-demo-image-upload", 180, "the demo's image upload button")
        preview = page.element(".hackkit-demo-preview", 60, "the first test image's preview")
        page.wait(lambda d: page.text(".hackkit-demo-result .hackkit-demo-label"), 60,
                  "the first test image's label")
        first_image = preview.get_attribute("src")
        page.driver.execute_script(FILE_INPUT_INTO_PAGE)
        button.click()
        chooser = page.wait(lambda d: d.find_element(By.CSS_SELECTOR, "input.hackkit-test-file-input"),
                            10, "the upload's file input")
        chooser.send_keys(str(picture))
        page.wait(lambda d: preview.get_attribute("src") != first_image, 60, "the uploaded image's preview")
        score = f"({expected['score']:.1%})"  # the result follows the preview in the same kernel call
        page.wait(lambda d: score in page.text(".hackkit-demo-result"), 30, f"its probability {score}")
        assert page.text(".hackkit-demo-result .hackkit-demo-label") == expected["label"]
    finally:
        shot = page.screenshot(tmp_path / "04_demo_image.png", centre_on=".hackkit-demo-image-upload")
    assert shot.stat().st_size > 10_000


def test_the_served_page_streams_a_generated_answer_in_chromium(browser, tiny_generation_run):
    import time

    from selenium.webdriver.common.by import By

    from helpers import served

    prompt = "brand[Lumio], product[laptop], colour[silver]"
    expected = hk.Predictor.from_run(tiny_generation_run, device="cpu").predict([prompt])[0]["text"]
    with served(tiny_generation_run) as url:
        browser.get(url)
        browser.find_element(By.ID, "t").send_keys(prompt)
        browser.find_element(By.ID, "b").click()
        deadline = time.monotonic() + 60
        answer = browser.find_element(By.ID, "r")
        while answer.get_attribute("data-done") != "1":
            assert time.monotonic() < deadline, "the streamed answer did not finish"
            time.sleep(0.2)
        assert answer.get_attribute("textContent").strip() == expected
