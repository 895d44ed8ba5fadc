#!/usr/bin/python3
"""Opens a page in Debian's headless chromium and runs steps on it over the
DevTools protocol, for the report and dashboard tests.

usage: page_check.py STEPS_JSON

STEPS_JSON is a list of steps, run in order:
  {"open": URL}                          navigate and wait for the load event
  {"wait": JS_EXPR, "timeout": S}        until the expression is truthy
  {"eval": JS_EXPR, "as": NAME}          keep the expression's value (JSON)
  {"click": CSS_SELECTOR}                click the first match
  {"type": CSS_SELECTOR, "text": TEXT}   set an input's value and fire 'input'
  {"run": [ARGV...]}                     run a program (e.g. add trials)
  {"screenshot": PATH, "width": W}       a PNG of the whole page
  {"screenshot": PATH, "element": SEL}   a PNG of one element of it
  {"errors_as": NAME}                    keep the errors seen so far
Prints one JSON object: {"results": {NAME: value}, "errors": [...]} where
errors are the page's uncaught exceptions, console.error calls and error log
entries. Exit 0 when every step ran (errors or not), 1 when one failed.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


class Page:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.errors = []
        self.loaded = False

    def _event(self, msg):
        method = msg.get("method")
        params = msg.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            exc = d.get("exception", {})
            self.errors.append("exception: " + (exc.get("description") or d.get("text", "")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = [a.get("value", a.get("description", "")) for a in params.get("args", [])]
            self.errors.append("console.error: " + " ".join(str(a) for a in args))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            e = params["entry"]
            self.errors.append("log: %s %s" % (e.get("text", ""), e.get("url", "")))
        elif method == "Page.loadEventFired":
            self.loaded = True

    def call(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            self._event(msg)

    def pump(self, seconds):
        """Reads events for up to `seconds`."""
        self.ws.settimeout(seconds)
        try:
            while True:
                self._event(json.loads(self.ws.recv()))
        except websocket.WebSocketTimeoutException:
            pass
        finally:
            self.ws.settimeout(60)

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("evaluating %s: %s" % (expr, r["exceptionDetails"].get("text")))
        return r.get("result", {}).get("value")


def start_browser(profile):
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    args = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--user-data-dir=" + profile, "--remote-debugging-port=0",
            "--window-size=1400,1000", "about:blank"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    port = None
    seen = []
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        proc.kill()
        raise RuntimeError("chromium did not start: " + "".join(seen[-5:]))
    # Keep reading its stderr so that it never blocks on a full pipe.
    import threading
    threading.Thread(target=lambda: proc.stderr.read(), daemon=True).start()
    for _ in range(100):
        try:
            targets = json.load(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port))
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return proc, pages[0]["webSocketDebuggerUrl"]
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("chromium opened no page")


def main():
    steps = json.loads(sys.argv[1])
    profile = tempfile.mkdtemp(prefix="sylva-chromium-")
    proc = None
    out = {"results": {}, "errors": []}
    code = 0
    try:
        proc, ws_url = start_browser(profile)
        page = Page(ws_url)
        for domain in ("Runtime", "Log", "Page"):
            page.call(domain + ".enable")
        for step in steps:
            if "open" in step:
                page.loaded = False
                page.call("Page.navigate", url=step["open"])
                deadline = time.time() + step.get("timeout", 60)
                while not page.loaded and time.time() < deadline:
                    page.pump(0.2)
                if not page.loaded:
                    raise RuntimeError("the page did not load: " + step["open"])
            elif "wait" in step:
                deadline = time.time() + step.get("timeout", 30)
                while not page.evaluate("Boolean(%s)" % step["wait"]):
                    if time.time() > deadline:
                        raise RuntimeError("timed out waiting for " + step["wait"])
                    page.pump(0.1)
            elif "eval" in step:
                out["results"][step["as"]] = page.evaluate(step["eval"])
            elif "click" in step:
                sel = json.dumps(step["click"])
                page.evaluate("document.querySelector(%s).click()" % sel)
            elif "type" in step:
                sel = json.dumps(step["type"])
                page.evaluate("(e => { e.value = %s; e.dispatchEvent(new Event('input')); })"
                              "(document.querySelector(%s))" % (json.dumps(step["text"]), sel))
            elif "run" in step:
                r = subprocess.run(step["run"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True)
                if r.returncode != 0:
                    raise RuntimeError("%s exited %d: %s" % (step["run"], r.returncode, r.stderr))
            elif "errors_as" in step:
                page.pump(0.2)
                out["results"][step["errors_as"]] = list(page.errors)
            elif "screenshot" in step:
                width = step.get("width", 1400)
                height = page.evaluate("document.documentElement.scrollHeight")
                height = max(600, min(int(height), step.get("max_height", 12000)))
                page.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                          deviceScaleFactor=1, mobile=False)
                page.pump(0.3)
                options = {"format": "png"}
                if "element" in step:
                    box = page.evaluate(
                        "(r => r && {x: r.left + scrollX, y: r.top + scrollY, width: r.width, "
                        "height: r.height})(document.querySelector(%s) && document.querySelector"
                        "(%s).getBoundingClientRect())" % ((json.dumps(step["element"]),) * 2))
                    if not box:
                        raise RuntimeError("no element " + step["element"])
                    box["scale"] = 1
                    options["clip"] = box
                shot = page.call("Page.captureScreenshot", **options)
                with open(step["screenshot"], "wb") as f:
                    f.write(base64.b64decode(shot["data"]))
                page.call("Emulation.clearDeviceMetricsOverride")
            else:
                raise RuntimeError("unknown step %s" % step)
        page.pump(0.2)
        out["errors"] = page.errors
    except Exception as e:  # the test prints it
        out["failure"] = str(e)
        code = 1
    finally:
        if proc:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(out))
    return code


if __name__ == "__main__":
    sys.exit(main())
