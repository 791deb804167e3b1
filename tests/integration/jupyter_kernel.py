"""Talking to a real Jupyter server the way JupyterLab does: REST with a
token or cookies, and kernel code over the kernel's WebSocket.

Works against a server directly (http://127.0.0.1:PORT/user/NAME/) and
through the hub's proxy alike: pass the base URL and the headers to send
(an https:// base URL: also the CA file that signed the hub's certificate).
"""
import json
import ssl
import urllib.error
import urllib.request
import uuid

import websocket  # python3-websocket


def http(method, url, headers=None, body=None, timeout=30, ca_file=None):
    """(status, parsed JSON or text) without raising on HTTP errors."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        context = ssl.create_default_context(cafile=ca_file) if ca_file else None
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Kernel:
    """A kernel started through the server's REST API, driven over its WebSocket."""

    def __init__(self, base_url, headers, kernel_id=None, timeout=120, ca_file=None):
        self.base_url = base_url.rstrip("/") + "/"
        self.headers = dict(headers)
        self.timeout = timeout
        if kernel_id is None:
            status, body = http("POST", self.base_url + "api/kernels", self.headers, {"name": "python3"},
                                ca_file=ca_file)
            assert status == 201, (status, body)
            kernel_id = body["id"]
        self.id = kernel_id
        self.session = uuid.uuid4().hex
        ws_base = self.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        ws_url = ws_base + f"api/kernels/{self.id}/channels?session_id={self.session}"
        # websocket-client sends an Origin of its own: pass ours through its option.
        origin = self.headers.get("Origin")
        extra = [f"{k}: {v}" for k, v in self.headers.items() if k != "Origin"]
        options = {"origin": origin} if origin else {}
        if ca_file:
            options["sslopt"] = {"ca_certs": ca_file}
        self.ws = websocket.create_connection(ws_url, timeout=timeout, header=extra, **options)

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass

    def execute(self, code):
        """Runs code; returns {'text': plain-text result or stream output, 'error': ename or None
        ('KernelDied' when the kernel died under it), 'status': reply status}."""
        msg_id = uuid.uuid4().hex
        msg = {
            "header": {"msg_id": msg_id, "username": "test", "session": self.session,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }
        self.ws.send(json.dumps(msg))
        out = {"text": "", "error": None, "status": None}
        idle = False
        while not (idle and out["status"]):
            m = json.loads(self.ws.recv())
            if (m["header"]["msg_type"] == "status"
                    and m["content"].get("execution_state") in ("restarting", "dead")):
                out["error"] = "KernelDied"
                return out
            if m.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            t = m["header"]["msg_type"]
            c = m["content"]
            if t == "execute_result":
                out["text"] += c["data"].get("text/plain", "")
            elif t == "stream":
                out["text"] += c["text"]
            elif t == "error":
                out["error"] = c["ename"]
            elif t == "status" and c["execution_state"] == "idle":
                idle = True
            elif t == "execute_reply":
                out["status"] = c["status"]
        return out
