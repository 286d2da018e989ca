"""JupyterLab + headless Chromium for the end-to-end test and the browser benchmark.

Starts JupyterLab on 127.0.0.1 (free port, random token, a temporary root directory and
settings, no browser of its own), opens a notebook in Debian's chromium through Playwright and
offers the few steps the tests need: run a cell, read a cell's output, find the widget.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import nbformat

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_notebook(path: Path, sources: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, str(path))


def kernel_env(**extra: str) -> dict[str, str]:
    """The environment of a server whose kernels import camwidget from this checkout."""
    repo = str(Path(__file__).resolve().parents[2])
    pythonpath = os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, JUPYTER_PLATFORM_DIRS="1", PYTHONUNBUFFERED="1", PYTHONPATH=pythonpath, **extra)


@contextlib.contextmanager
def serve(name: str, cmd: list[str], root: Path, ready: str, env: dict[str, str] | None = None,
          timeout: float = 90) -> Iterator[None]:
    """Run a notebook server (``cmd``, in ``root``) until it answers 200 at ``ready``; stop it after.

    Its output goes to ``root/.<name>.log``, quoted when it does not start."""
    log_path = root / f".{name}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, cwd=root, env=env or kernel_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(ready, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not start in time:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def _settings(root: Path) -> Path:
    """A private settings directory with JupyterLab's news and update checks switched off."""
    settings = root / ".lab-settings"
    setting = settings / "@jupyterlab" / "apputils-extension"
    setting.mkdir(parents=True, exist_ok=True)
    (setting / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return settings


def _server_flags(root: Path, port: int, token: str) -> list[str]:
    return [
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_root=True",
    ]


@contextlib.contextmanager
def jupyterlab(root: Path, timeout: float = 90) -> Iterator[str]:
    """Run JupyterLab serving ``root``; yields ``"BASE|TOKEN"`` (the base URL and its token).

    The page exposes the app as ``window.jupyterapp`` (to switch themes by command)."""
    port, token = _free_port(), secrets.token_hex(16)
    settings = _settings(root)
    cmd = [
        sys.executable, "-m", "jupyterlab", *_server_flags(root, port, token),
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={root / '.lab-workspaces'}",
        "--LabApp.news_url=",
        "--LabApp.expose_app_in_browser=True",
    ]
    base = f"http://127.0.0.1:{port}"
    with serve("jupyterlab", cmd, root, f"{base}/api/status?token={token}", timeout=timeout):
        yield f"{base}|{token}"


@contextlib.contextmanager
def notebook7(root: Path, timeout: float = 90) -> Iterator[str]:
    """Run Jupyter Notebook 7 serving ``root``; yields ``"BASE|TOKEN"``."""
    port, token = _free_port(), secrets.token_hex(16)
    settings = root / ".nb-settings"  # private and empty: Notebook 7 has no news to switch off
    settings.mkdir(exist_ok=True)
    cmd = [
        sys.executable, "-m", "notebook", *_server_flags(root, port, token),
        f"--JupyterNotebookApp.user_settings_dir={settings}",
        f"--JupyterNotebookApp.workspaces_dir={root / '.lab-workspaces'}",
        "--JupyterNotebookApp.expose_app_in_browser=True",
    ]
    base = f"http://127.0.0.1:{port}"
    with serve("notebook", cmd, root, f"{base}/api/status?token={token}", timeout=timeout):
        yield f"{base}|{token}"


@contextlib.contextmanager
def voila(root: Path, notebook: str, theme: str = "light", timeout: float = 90) -> Iterator[str]:
    """Run Voila on ``root/notebook`` (every cell runs, only outputs show); yields its page URL."""
    port = _free_port()
    cmd = [
        sys.executable, "-m", "voila", notebook, "--no-browser", f"--theme={theme}",
        "--VoilaConfiguration.allow_theme_override=YES",  # ?theme=dark on the URL
        "--Voila.ip=127.0.0.1", f"--Voila.port={port}", "--Voila.port_retries=0",
        "--VoilaConfiguration.show_tracebacks=True",
    ]
    url = f"http://127.0.0.1:{port}/"
    with serve("voila", cmd, root, f"{url}voila/static/favicon.ico", timeout=timeout):
        yield url


@contextlib.contextmanager
def marimo(root: Path, app: str, theme: str = "system", timeout: float = 90) -> Iterator[str]:
    """Run the marimo app ``root/app`` (``marimo run``: the cells run, the outputs show); yields its URL.

    marimo's theme comes from a private config file (``system`` follows prefers-color-scheme)."""
    port = _free_port()
    config = root / ".config" / "marimo"
    config.mkdir(parents=True, exist_ok=True)
    (config / "marimo.toml").write_text(f'[display]\ntheme = "{theme}"\n\n[runtime]\nauto_instantiate = true\n')
    env = kernel_env(XDG_CONFIG_HOME=str(root / ".config"), HOME=str(root))
    cmd = [
        sys.executable, "-m", "marimo", "run", app, "--headless", "--no-token",
        "--host", "127.0.0.1", "--port", str(port), "--no-sandbox", "--no-check",
    ]
    url = f"http://127.0.0.1:{port}/"
    with serve("marimo", cmd, root, f"{url}health", env=env, timeout=timeout):
        yield url


@contextlib.contextmanager
def browser_page(executable: str, viewport=(1400, 1000), color_scheme: str = "light"):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": viewport[0], "height": viewport[1]}, color_scheme=color_scheme
            )
            page = context.new_page()
            yield page
        finally:
            browser.close()


class Notebook:
    """A notebook open in JupyterLab, driven through the page like a person would."""

    def __init__(self, page, server: str, name: str, path: str = "lab/tree"):
        """Open ``name``; ``path`` is ``"lab/tree"`` in JupyterLab, ``"notebooks"`` in Notebook 7."""
        base, token = server.split("|")
        self.page = page
        page.goto(f"{base}/{path}/{name}?token={token}", wait_until="domcontentloaded")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
        # The kernel is started, connected and idle.
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
        if path.startswith("lab"):  # Notebook 7 has no status bar
            page.locator(".jp-StatusBar-Widget", has_text="Idle").first.wait_for(timeout=90_000)

    def cell(self, index: int):
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def run(self, index: int, timeout: float = 120) -> str:
        """Run cell ``index`` in place (Ctrl+Enter) and return its text output when it finished."""
        cell = self.cell(index)
        before = cell.locator(".jp-InputArea-prompt").inner_text().strip()
        cell.locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Control+Enter")
        start = time.monotonic()
        deadline = start + timeout
        retried = False
        while True:
            prompt = cell.locator(".jp-InputArea-prompt").inner_text().strip()
            if prompt != before and "*" not in prompt and prompt not in ("[ ]:", ""):
                break
            if not retried and prompt == before and time.monotonic() - start > 10:
                # The key press went nowhere (the editor was not focused yet): press it again.
                retried = True
                cell.locator(".jp-InputArea-editor").click()
                self.page.keyboard.press("Control+Enter")
            if time.monotonic() > deadline:
                raise TimeoutError(f"cell {index} did not finish (prompt {prompt!r})")
            time.sleep(0.1)
        return self.output(index)

    def output(self, index: int) -> str:
        outputs = self.cell(index).locator(".jp-OutputArea-output")
        return "\n".join(outputs.nth(i).inner_text() for i in range(outputs.count()))

    def error_outputs(self) -> list[str]:
        """Text of every stderr or error output in the notebook."""
        errors = self.page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'],"
            " .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']"
        )
        return [errors.nth(i).inner_text() for i in range(errors.count())]


def new_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="camwidget-lab-"))


@contextlib.contextmanager
def opened_notebook(chromium: str, name: str, cells: list[str]):
    """``(server, page, notebook, page_errors)``: a fresh root holding one notebook, open in
    JupyterLab in a Chromium page, its first cell run; the root is removed afterwards."""
    root = new_root()
    try:
        write_notebook(root / name, cells)
        with jupyterlab(root) as server, browser_page(chromium) as page:
            page_errors: list[str] = []
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            notebook = Notebook(page, server, name)
            notebook.run(0, timeout=300)
            yield server, page, notebook, page_errors
    finally:
        shutil.rmtree(root, ignore_errors=True)
