#!/usr/bin/env python3
"""A fault-injecting OpenAI-compatible Chat Completions server for the integration tests.

Answers MRCR samples from a replay file, like a real model server would, but first injects a
fixed schedule of faults per (sample, mode): 429 with Retry-After, 5xx, connection resets (before
and in the middle of a response), truncated and malformed bodies, an `error` object inside a
200, streams cut before they finish, stalls past the client's timeout, plus real answers with
finish_reason "length", reasoning in `reasoning_content` or inline in `<think>...</think>`.

It checks what a DeepSeek-API-style client must send (bearer key, model, the reasoning-mode
switches) and refuses anything else with a final 4xx, so a client that gets the protocol wrong
fails the test instead of passing by luck.

Loopback only (127.0.0.1), and bounded: it stops after --max-requests requests or --max-seconds.
Writes the port to --port-file once listening, the answers it will finally give to
--expect-out (a replay file), and a JSON summary of what it injected to --summary-out at exit.
Standard library only.
"""
import argparse
import hashlib
import http.server
import json
import os
import signal
import socket
import socketserver
import struct
import sys
import threading
import time

MODES = ["non-think", "think-high", "think-max"]

# Faults injected before the real answer, per (sample, mode). Entry k applies to request k.
SCHEDULE = [
    [],
    ["429"],
    ["500"],
    ["reset"],
    ["truncated"],
    ["malformed"],
    ["stream_cut"],
    ["timeout"],
    ["error_in_200"],
    ["502", "429"],
    ["reset_mid"],
    ["503"],
    ["empty_choices"],
    [],
]
# Samples whose answer is cut by max_tokens: a real answer (finish_reason "length"), graded as is.
LENGTH_SAMPLES = {"5"}


def messages_key(messages):
    h = hashlib.sha256()
    for m in messages:
        h.update(json.dumps([m.get("role"), m.get("content")], ensure_ascii=False).encode())
    return h.hexdigest()


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.by_prompt = {}  # messages hash -> sample_id
        for i, line in enumerate(open(args.data, encoding="utf-8")):
            row = json.loads(line)
            self.by_prompt[messages_key(json.loads(row["prompt"]))] = str(i)
        self.answers = {}  # (sample_id, mode) -> text
        for line in open(args.replay, encoding="utf-8"):
            r = json.loads(line)
            if r.get("repeat", 0) == 0:
                self.answers[(str(r["sample_id"]), r.get("mode", "non-think"))] = r["text"]
        self.seen = {}  # (sample_id, mode) -> requests so far
        self.last_fault_at = {}  # (sample_id, mode) -> (fault, time)
        self.injected = {}
        self.retry_after_gaps = []  # seconds between a 429 (Retry-After: 1) and the next request
        self.requests = 0
        self.styles = set()
        self.started = time.time()

    def final_text(self, sample_id, mode):
        text = self.answers[(sample_id, mode)]
        if sample_id in LENGTH_SAMPLES:
            return text[: len(text) // 2], "length"
        return text, "stop"

    def reasoning_for(self, sample_id, mode):
        if mode == "non-think":
            return ""
        return f"Sample {sample_id}: find the needle, then copy it after the prefix. ({mode})"


def mode_of(body):
    """The reasoning mode the request asks for, and the switch style; None when malformed."""
    has_ds = "thinking" in body or "reasoning_effort" in body
    kwargs = body.get("chat_template_kwargs")
    has_tpl = isinstance(kwargs, dict) and ("thinking" in kwargs or "reasoning_effort" in kwargs)
    if has_ds == has_tpl:
        return None, None
    if has_ds:
        thinking = (body.get("thinking") or {}).get("type")
        effort = body.get("reasoning_effort")
        if thinking == "disabled" and effort is None:
            return "non-think", "deepseek"
        if thinking == "enabled" and effort in ("high", "max"):
            return ("think-high" if effort == "high" else "think-max"), "deepseek"
        return None, None
    thinking = kwargs.get("thinking")
    effort = kwargs.get("reasoning_effort")
    if thinking is False and effort is None:
        return "non-think", "template"
    if thinking is True and effort in ("high", "max"):
        return ("think-high" if effort == "high" else "think-max"), "template"
    return None, None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-openai/1"

    def log_message(self, fmt, *args):
        if self.server.state.args.verbose:
            sys.stderr.write("fake-openai: " + fmt % args + "\n")

    # ---- helpers
    def send_json(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, message, type_="invalid_request_error", headers=None):
        self.send_json(status, {"error": {"message": message, "type": type_, "param": None, "code": None}},
                       headers)

    def reset(self):
        # SO_LINGER 0: close() sends RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    # ---- routes
    def do_GET(self):
        st = self.server.state
        if self.path.startswith("/stats"):  # for the test script: what was injected (?reset clears)
            with st.lock:
                snapshot = {"requests": st.requests, "injected": dict(st.injected),
                            "retry_after_gaps": list(st.retry_after_gaps), "styles": sorted(st.styles)}
                if "reset" in self.path:
                    st.injected.clear()
                    st.retry_after_gaps.clear()
                    st.styles.clear()
                    st.seen.clear()
                    st.last_fault_at.clear()
            return self.send_json(200, snapshot)
        if self.path.rstrip("/").endswith("/models"):
            return self.send_json(200, {"object": "list", "data": [{"id": self.server.state.args.model,
                                                                     "object": "model"}]})
        self.error(404, "no route")

    def do_POST(self):
        st = self.server.state
        with st.lock:
            st.requests += 1
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if not self.path.endswith("/chat/completions"):
            return self.error(404, "no route " + self.path)
        if st.args.api_key_env:
            want = "Bearer " + os.environ[st.args.api_key_env]
            if self.headers.get("Authorization") != want:
                return self.error(401, "Incorrect API key provided", "authentication_error")
        if self.headers.get("Expect"):
            return self.error(417, "Expect: 100-continue is not supported here")
        try:
            body = json.loads(raw)
        except ValueError:
            return self.error(400, "request body is not JSON")
        if body.get("model") != st.args.model:
            return self.error(404, f"The model '{body.get('model')}' does not exist", "invalid_request_error")
        mode, style = mode_of(body)
        if mode is None:
            return self.error(400, "reasoning-mode switches malformed: " + json.dumps(
                {k: body.get(k) for k in ("thinking", "reasoning_effort", "chat_template_kwargs")}))
        sample_id = st.by_prompt.get(messages_key(body.get("messages", [])))
        if sample_id is None:
            return self.error(400, "unknown prompt (not a sample of the data file)")
        stream = bool(body.get("stream"))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        key = (sample_id, mode)
        with st.lock:
            st.styles.add(style)
            k = st.seen.get(key, 0)
            st.seen[key] = k + 1
            schedule = SCHEDULE[(int(sample_id) + 5 * MODES.index(mode)) % len(SCHEDULE)]
            fault = schedule[k] if k < len(schedule) else None
            if fault == "stream_cut" and not stream:
                fault = "truncated"
            prev = st.last_fault_at.get(key)
            if prev and prev[0] == "429":
                st.retry_after_gaps.append(time.time() - prev[1])
            if fault:
                st.injected[fault] = st.injected.get(fault, 0) + 1
                st.last_fault_at[key] = (fault, time.time())
        if fault:
            return self.inject(fault, stream)
        text, finish = st.final_text(sample_id, mode)
        reasoning = st.reasoning_for(sample_id, mode)
        # Even samples: reasoning_content (DeepSeek API); odd: inline <think> (servers that
        # leave the reasoning in the content).
        inline = reasoning and int(sample_id) % 2 == 1
        usage = {"prompt_tokens": length // 4, "completion_tokens": (len(text) + len(reasoning)) // 4,
                 "total_tokens": length // 4 + (len(text) + len(reasoning)) // 4,
                 "completion_tokens_details": {"reasoning_tokens": len(reasoning) // 4}}
        if not stream:
            message = {"role": "assistant", "content": text}
            if inline:
                message["content"] = "<think>\n" + reasoning + "\n</think>\n\n" + text
            elif reasoning:
                message["reasoning_content"] = reasoning
            return self.send_json(200, {"id": "chatcmpl-x", "object": "chat.completion", "created": 0,
                                        "model": st.args.model,
                                        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                                        "usage": usage})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(delta=None, finish_reason=None, usage_=None):
            obj = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 0, "model": st.args.model,
                   "choices": [] if usage_ is not None else
                   [{"index": 0, "delta": delta or {}, "finish_reason": finish_reason}]}
            if usage_ is not None:
                obj["usage"] = usage_
            # Events split at odd places: the client must reassemble SSE across reads.
            data = ("data: " + json.dumps(obj) + "\n\n").encode()
            cut = len(data) // 3
            self.chunk(data[:cut])
            self.chunk(data[cut:])

        event({"role": "assistant"})
        if inline:
            pieces = ["<thi", "nk>\n" + reasoning[:10], reasoning[10:] + "\n</th", "ink>\n\n"]
            for p in pieces:
                event({"content": p})
        elif reasoning:
            event({"reasoning_content": reasoning[:7]})
            event({"reasoning_content": reasoning[7:]})
        for i in range(0, len(text), 40):
            event({"content": text[i:i + 40]})
        event({}, finish)
        if include_usage:
            event(usage_=usage)
        self.chunk(b": keep-alive comment\n\ndata: [DONE]\n\n")
        self.chunk(b"")

    def inject(self, fault, stream):
        if fault == "429":
            return self.error(429, "Rate limit reached", "rate_limit_error", {"Retry-After": "1"})
        if fault in ("500", "502", "503"):
            return self.error(int(fault), "upstream trouble", "server_error",
                              {"Retry-After": "0"} if fault == "503" else None)
        if fault == "reset":
            return self.reset()
        if fault == "reset_mid":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(b'{"id": "chatcmpl-x", "choices": [{"index": 0, "mess')
            self.wfile.flush()
            return self.reset()
        if fault == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "400")
            self.end_headers()
            self.wfile.write(b'{"id": "chatcmpl-x", "object": "chat.completion", "choices": [{"ind')
            self.wfile.flush()
            self.close_connection = True
            return
        if fault == "malformed":
            data = b'{"id": "chatcmpl-x", "choices": [{"index": 0, "message": {"content": "half'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if fault == "stream_cut":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.chunk(b'data: {"choices": [{"index": 0, "delta": {"content": "partial answer"}}]}\n\n')
            self.chunk(b'data: {"choices": [{"index": 0, "delta": {"content": "more')
            self.close_connection = True
            return
        if fault == "timeout":
            time.sleep(self.server.state.args.stall_seconds)
            self.close_connection = True
            return
        if fault == "error_in_200":
            return self.send_json(200, {"error": {"message": "model overloaded", "type": "overloaded_error",
                                                  "code": 529}})
        if fault == "empty_choices":
            return self.send_json(200, {"id": "chatcmpl-x", "object": "chat.completion", "choices": []})
        raise AssertionError(fault)

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--replay", required=True)
    p.add_argument("--model", default="deepseek-v4-flash")
    p.add_argument("--api-key-env", default="")
    p.add_argument("--port-file", required=True)
    p.add_argument("--expect-out", required=True)
    p.add_argument("--summary-out", required=True)
    p.add_argument("--stall-seconds", type=float, default=4.0)
    p.add_argument("--max-requests", type=int, default=5000)
    p.add_argument("--max-seconds", type=float, default=300)
    p.add_argument("--tls-cert", default="", help="serve HTTPS with this PEM certificate")
    p.add_argument("--tls-key", default="")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()

    state = State(args)
    with open(args.expect_out, "w", encoding="utf-8") as f:
        for (sample_id, mode) in sorted(state.answers):
            text, finish = state.final_text(sample_id, mode)
            f.write(json.dumps({"suite": "mrcr", "sample_id": sample_id, "mode": mode, "repeat": 0,
                                "text": text, "reasoning": state.reasoning_for(sample_id, mode),
                                "finish_reason": finish}) + "\n")
    server = Server(("127.0.0.1", 0), Handler)
    server.state = state
    if args.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)

    def bounded():
        while time.time() - state.started < args.max_seconds and state.requests < args.max_requests:
            time.sleep(0.05)
        server.shutdown()

    threading.Thread(target=bounded, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever(poll_interval=0.05)
    with open(args.summary_out, "w") as f:
        json.dump({"requests": state.requests, "injected": state.injected,
                   "retry_after_gaps": state.retry_after_gaps, "styles": sorted(state.styles)}, f)


if __name__ == "__main__":
    main()
