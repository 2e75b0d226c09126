#!/usr/bin/env python3
"""A small, real Open Inference Protocol v2 REST server backed by PyTorch.

It is the Python upstream for Rampart's end-to-end tests: a genuine PyTorch
model behind a genuine HTTP server, standard library only apart from torch
and scikit-learn. At start-up it trains a tiny MLP on scikit-learn's
breast-cancer dataset (a few hundred full-batch Adam steps, about a second on
one core), or loads the weights it saved earlier with --weights.

Endpoints (OIP v2 / KServe v2 / Triton HTTP):
  GET  /v2                                        server metadata
  GET  /v2/health/live, /v2/health/ready
  GET  /v2/models/{name}[/versions/{v}]           model metadata
  GET  /v2/models/{name}[/versions/{v}]/ready
  POST /v2/models/{name}[/versions/{v}]/infer     input__0 FP32 [-1,30] -> output__0 FP32 [-1,2]

output__0 holds class probabilities (malignant, benign) for raw, unscaled
features; the model standardizes inside. Triton's binary tensor extension is
supported both ways: an input may carry parameters.binary_data_size with its
bytes after the JSON header (Inference-Header-Content-Length), and an output
requested with parameters.binary_data = true comes back the same way.
Errors are {"error": "..."} with status 400, 404, 405 or 413.

Usage (Debian's python3 has torch and scikit-learn):
  /usr/bin/python3 test/upstreams/torch_oip_server.py --port 0
It prints "READY port=NNNN" on stdout once it accepts connections.
"""

import argparse
import json
import os
import re
import signal
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch
from sklearn.datasets import load_breast_cancer

FEATURES = 30
MAX_BODY = 16 << 20
MAX_BATCH = 4096
HEADER = "Inference-Header-Content-Length"
INPUT, OUTPUT = "input__0", "output__0"


class MLP(torch.nn.Module):
    """30 -> 16 -> 2 with standardization built in, so clients send raw rows."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.zeros(FEATURES))
        self.register_buffer("std", torch.ones(FEATURES))
        self.net = torch.nn.Sequential(
            torch.nn.Linear(FEATURES, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


def train(steps=300, seed=0):
    torch.manual_seed(seed)
    data = load_breast_cancer()
    x = torch.tensor(data.data, dtype=torch.float32)
    y = torch.tensor(data.target, dtype=torch.long)
    # Deterministic 75/25 split.
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    cut = len(x) * 3 // 4
    tr, te = perm[:cut], perm[cut:]
    model = MLP()
    model.mean.copy_(x[tr].mean(0))
    model.std.copy_(x[tr].std(0))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x[tr]), y[tr])
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(x[te]).argmax(1) == y[te]).float().mean().item()
    return model, acc


def load_or_train(path):
    if path and os.path.exists(path):
        model = MLP()
        # weights_only: a state dict of tensors, never pickled code.
        model.load_state_dict(torch.load(path, weights_only=True))
        model.eval()
        return model, None
    model, acc = train()
    if path:
        torch.save(model.state_dict(), path)
    return model, acc


class BadRequest(Exception):
    def __init__(self, msg, status=400):
        super().__init__(msg)
        self.status = status


def flatten(v, out, limit):
    if isinstance(v, list):
        for e in v:
            flatten(e, out, limit)
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        if len(out) >= limit:
            raise BadRequest(f"input {INPUT!r} has more values than its shape allows")
        out.append(float(v))
    else:
        raise BadRequest(f"input {INPUT!r} data must contain only numbers")


def decode_input(req, binary):
    inputs = req.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise BadRequest(f"expected exactly 1 input {INPUT!r}")
    inp = inputs[0]
    if inp.get("name") != INPUT:
        raise BadRequest(f"unknown input, expected {INPUT!r}")
    if inp.get("datatype") != "FP32":
        raise BadRequest(f"input {INPUT!r} must have datatype FP32")
    shape = inp.get("shape")
    if (not isinstance(shape, list) or len(shape) != 2 or shape[1] != FEATURES
            or not all(type(d) is int for d in shape) or shape[0] < 0):
        raise BadRequest(f"input {INPUT!r} must have shape [n, {FEATURES}]")
    if shape[0] > MAX_BATCH:
        raise BadRequest(f"batch of {shape[0]} rows exceeds the limit of {MAX_BATCH}")
    want = shape[0] * FEATURES
    params = inp.get("parameters") or {}
    if not isinstance(params, dict):
        raise BadRequest("parameters must be an object")
    if "binary_data_size" in params:
        size = params["binary_data_size"]
        if type(size) is not int or size != len(binary) or size != 4 * want:
            raise BadRequest(f"binary_data_size must be {4 * want} and match the bytes after the JSON header")
        values = list(struct.unpack(f"<{want}f", binary))
    else:
        if binary:
            raise BadRequest("binary data after the JSON header is not claimed by any input")
        if "data" not in inp:
            raise BadRequest(f"input {INPUT!r} needs data")
        values = []
        try:
            flatten(inp["data"], values, want)
        except RecursionError:
            raise BadRequest(f"input {INPUT!r} data is nested too deeply")
        if len(values) != want:
            raise BadRequest(f"input {INPUT!r} has {len(values)} values, shape needs {want}")
    x = torch.tensor(values, dtype=torch.float32).reshape(shape[0], FEATURES)
    if not torch.isfinite(x).all():
        raise BadRequest(f"input {INPUT!r} values must be finite FP32 numbers")
    return x


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every reply has a Content-Length
    server_version = "rampart-torch-oip/0.1"
    model = None
    consumed = False
    names = ()
    version = "1"

    def log_message(self, fmt, *args):  # quiet: tests read stdout
        pass

    def send(self, status, obj, binary=b"", extra=None):
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(status)
        if binary:
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header(HEADER, str(len(body)))
        else:
            self.send_header("Content-Type", "application/json")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) + len(binary)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body + binary)

    def error(self, status, msg, extra=None):
        if not self.consumed and (self.headers.get("Content-Length", "0") != "0"
                                  or "Transfer-Encoding" in self.headers):
            # An unread body would be taken for the next request.
            self.close_connection = True
        self.send(status, {"error": msg}, extra=extra)

    def route(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/v2":
            return "server", None, None
        if path in ("/v2/health/live", "/v2/health/ready"):
            return path.rsplit("/", 1)[1], None, None
        m = re.fullmatch(r"/v2/models/([^/]+)(?:/versions/([^/]+))?(/ready|/infer)?", path)
        if not m:
            return None, None, None
        name, version, tail = m.groups()
        return {None: "model", "/ready": "model_ready", "/infer": "infer"}[tail], name, version

    def handle_any(self):
        self.consumed = False
        try:
            self.dispatch()
        except BadRequest as e:
            self.error(e.status, str(e))
        except Exception as e:  # never leave a client without an answer
            print(f"internal error: {e!r}", file=sys.stderr, flush=True)
            self.error(500, "internal error")

    def dispatch(self):
        kind, name, version = self.route()
        if kind is None:
            return self.error(404, "not found")
        want = "POST" if kind == "infer" else "GET"
        if self.command != want and not (want == "GET" and self.command == "HEAD"):
            return self.error(405, f"method {self.command} not allowed, use {want}", {"Allow": want})
        if name is not None and (name not in self.names or version not in (None, self.version)):
            return self.error(404, f"model {name[:64]!r} version {str(version)[:64]!r} is not found"
                              if version else f"model {name[:64]!r} is not found")
        if kind == "server":
            return self.send(200, {"name": "rampart-torch-oip", "version": "0.1.0",
                                   "extensions": ["binary_tensor_data"]})
        if kind in ("live", "ready"):
            return self.send(200, {kind: True})
        if kind == "model_ready":
            return self.send(200, {"name": name, "ready": True})
        if kind == "model":
            return self.send(200, {
                "name": name, "versions": [self.version], "platform": "pytorch_libtorch",
                "inputs": [{"name": INPUT, "datatype": "FP32", "shape": [-1, FEATURES]}],
                "outputs": [{"name": OUTPUT, "datatype": "FP32", "shape": [-1, 2]}]})
        self.infer(name)

    def infer(self, name):
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise BadRequest("Content-Length is required", 411)
        if length < 0 or length > MAX_BODY:
            # The body stays unread, so the connection cannot be reused.
            self.close_connection = True
            raise BadRequest(f"request body exceeds {MAX_BODY} bytes", 413)
        body = self.rfile.read(length)
        self.consumed = True
        hlen = self.headers.get(HEADER)
        if hlen is None:
            head, binary = body, b""
        else:
            if not hlen.strip().isdigit() or int(hlen) > len(body):
                raise BadRequest(f"{HEADER} must be an integer between 0 and the body length")
            head, binary = body[:int(hlen)], body[int(hlen):]
        try:
            req = json.loads(head)
        except (ValueError, RecursionError):
            raise BadRequest("invalid inference request JSON")
        if not isinstance(req, dict):
            raise BadRequest("the inference request must be a JSON object")
        x = decode_input(req, binary)
        outputs = req.get("outputs") or [{"name": OUTPUT}]
        if (not isinstance(outputs, list) or len(outputs) != 1 or not isinstance(outputs[0], dict)
                or outputs[0].get("name") != OUTPUT):
            raise BadRequest(f"the only output is {OUTPUT!r}")
        with torch.no_grad():
            probs = torch.softmax(self.model(x), dim=1)
        out = {"name": OUTPUT, "datatype": "FP32", "shape": [x.shape[0], 2]}
        want_binary = (outputs[0].get("parameters") or {}).get("binary_data") is True
        raw = b""
        if want_binary:
            raw = struct.pack(f"<{probs.numel()}f", *probs.flatten().tolist())
            out["parameters"] = {"binary_data_size": len(raw)}
        else:
            out["data"] = probs.flatten().tolist()
        resp = {"model_name": name, "model_version": self.version, "outputs": [out]}
        if isinstance(req.get("id"), str):
            resp["id"] = req["id"]
        self.send(200, resp, binary=raw)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = handle_any


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
    ap.add_argument("--model-name", action="append", dest="names",
                    help="model name to serve (repeatable; default breast-cancer-torch)")
    ap.add_argument("--weights", help="load weights from this .pt file, or train and save them there")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    start = time.monotonic()
    model, acc = load_or_train(args.weights)
    Handler.model = model
    Handler.names = tuple(args.names or ["breast-cancer-torch"])
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    note = f" test_accuracy={acc:.4f}" if acc is not None else ""
    print(f"model ready in {time.monotonic() - start:.2f}s{note}", file=sys.stderr, flush=True)
    # Explicit handlers: a parent may have started us with SIGINT ignored.
    def stop(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"READY port={srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
