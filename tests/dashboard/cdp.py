"""A small Chrome DevTools Protocol client for the system chromium (headless, offline):
navigate, evaluate JavaScript, dispatch real mouse events, collect console errors, screenshot."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
    "--allow-file-access-from-files",
]


def find_chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("PHASEWATCH_REQUIRE_BROWSER"):
            pytest.fail("PHASEWATCH_REQUIRE_BROWSER is set but chromium is not installed")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


class Browser:
    """One headless chromium with one page; every console error and exception is kept in ``errors``."""

    def __init__(self, chromium: str, profile: Path) -> None:
        import websocket

        self.proc = subprocess.Popen(
            [chromium, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        port = None
        for line in self.proc.stderr:
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if match:
                port = match.group(1)
                break
        assert port, "chromium did not start its DevTools endpoint"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as response:
            targets = json.load(response)
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self._id = 0
        self.errors: list[str] = []
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(params["entry"]["text"])

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self._event(message)

    def eval(self, expression: str) -> Any:
        """Evaluate (awaiting a promise) and return the value; a thrown error fails the test."""
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"JS error in {expression[:80]!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, condition: str, timeout_ms: int = 20_000) -> None:
        """Poll ``condition`` inside the page (browser timers, not the test's clock)."""
        ok = self.eval(f"""new Promise(function (done) {{ var t0 = Date.now(); (function poll() {{
            var ok = false; try {{ ok = !!({condition}); }} catch (e) {{}}
            if (ok) done(true); else if (Date.now() - t0 > {timeout_ms}) done(false); else setTimeout(poll, 50); }})(); }})""")
        assert ok, f"timed out waiting for {condition}"

    def open(self, url: str, width: int = 1280, height: int = 900) -> None:
        self.viewport(width, height)
        self.send("Page.navigate", url="about:blank")  # a fresh document, not just a new #hash
        self.wait_for("document.readyState === 'complete'")
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && document.documentElement.getAttribute('data-page')")

    def viewport(self, width: int, height: int) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=width < 600
        )

    def mouse(self, x: float, y: float) -> None:
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)

    def click(self, selector: str) -> None:
        box = self.eval(
            f"(function(){{var e=document.querySelector({json.dumps(selector)}); e.scrollIntoView({{block: 'center'}});"
            "var r=e.getBoundingClientRect();"
            "return [r.left + r.width / 2, r.top + r.height / 2];})()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def screenshot(self, path: Path, width: int) -> None:
        """The whole page at ``width`` CSS pixels."""
        self.viewport(width, 900)
        self.eval("new Promise(function(d){window.dispatchEvent(new Event('resize'));setTimeout(d, 400);})")
        height = min(int(self.eval("document.documentElement.scrollHeight")), 6000)
        self.viewport(width, height)
        self.eval("new Promise(function(d){window.dispatchEvent(new Event('resize'));setTimeout(d, 400);})")
        shot = self.send("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=30)
