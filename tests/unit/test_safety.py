"""Safety defaults: no pickled weights, no remote code, localhost with a token, no secrets in git."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from hackkit.models.resolve import load_for_classification
from hackkit.paths import load_env

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "Hugging Face token": re.compile(r"\bhf_[A-Za-z0-9]{30,}"),
    "OpenAI-style key": re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}"),
}


def _tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to scan")
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / name for name in out.stdout.splitlines()]


def test_pickled_weights_are_refused_with_the_conversion_step(tiny_model, tmp_path):
    import torch
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    folder.mkdir()
    shutil.copy(tiny_model / "config.json", folder)
    torch.save(load_file(tiny_model / "model.safetensors"), folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match=r"only as pickle files \(pytorch_model.bin\).*"
                                         r"save_pretrained\(folder\) writes model.safetensors"):
        load_for_classification(str(folder), ["a", "b"])


def test_code_shipped_with_a_model_is_never_run(tiny_model, tmp_path):
    folder = Path(shutil.copytree(tiny_model, tmp_path / "custom"))
    marker = tmp_path / "code-ran"
    (folder / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="hackkit-custom", auto_map={
        "AutoConfig": "evil.Config", "AutoModelForSequenceClassification": "evil.Model"})
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="contains custom code"):
        load_for_classification(str(folder), ["a", "b"])
    assert not marker.exists()


def test_jupyterlab_binds_to_localhost_with_a_token():
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=True)
    (lab,) = [line for line in out.stdout.splitlines() if "jupyter lab" in line]
    assert "--ServerApp.ip=127.0.0.1" in lab
    assert "token" not in lab.lower() and "password" not in lab.lower()  # Jupyter's own token stays on


def test_no_tracked_file_holds_a_secret_and_notebooks_have_no_outputs():
    files = _tracked_files()
    assert len(files) > 20
    for path in files:
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        for kind, pattern in SECRETS.items():
            assert not pattern.search(text), f"{path.relative_to(ROOT)} holds what looks like a {kind}"
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
            assert all(not c.get("outputs") for c in nb.cells), f"{path.name} has outputs"


def test_tokens_go_in_a_git_ignored_env_file(tmp_path, monkeypatch):
    example = (ROOT / ".env.example").read_text()
    assert "# HF_TOKEN=" in example and ".env" in example
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert ignored.returncode == 0, ".env must be git-ignored"
    env = tmp_path / ".env"
    env.write_text("HACKKIT_TEST_TOKEN=from-file\nHACKKIT_TEST_SET=from-file\n")
    monkeypatch.setenv("HACKKIT_TEST_SET", "from-shell")
    monkeypatch.delenv("HACKKIT_TEST_TOKEN", raising=False)
    assert load_env(env)
    assert os.environ["HACKKIT_TEST_TOKEN"] == "from-file"
    assert os.environ["HACKKIT_TEST_SET"] == "from-shell"  # the shell wins
    monkeypatch.delenv("HACKKIT_TEST_TOKEN")
