#!/usr/bin/env python3
"""Reference client for bench_http: the same Chat Completions request as the C++ side, sent by
N asyncio tasks over N keep-alive HTTP/1.1 connections to 127.0.0.1:PORT (standard library
only: asyncio streams, a minimal HTTP/1.1 parser, json). Prints one line:
"requests_per_second cpu_us_per_request errors"."""
import argparse
import asyncio
import json
import time

BODY = json.dumps({"model": "bench", "messages": [{"role": "user", "content": "Say hello."}],
                   "max_tokens": 16}).encode()


def request_bytes(port):
    return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nAccept: application/json\r\n"
            f"Content-Length: {len(BODY)}\r\n\r\n").encode() + BODY


async def worker(port, state):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    req = request_bytes(port)
    try:
        while not state["stop"]:
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            ok = head.startswith(b"HTTP/1.1 200") and json.loads(body)["choices"][0]["message"]["content"]
            if state["measuring"]:
                if ok:
                    state["done"] += 1
                else:
                    state["errors"] += 1
    finally:
        writer.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--seconds", type=float, default=3)
    args = p.parse_args()
    state = {"stop": False, "measuring": False, "done": 0, "errors": 0}
    tasks = [asyncio.create_task(worker(args.port, state)) for _ in range(args.concurrency)]
    await asyncio.sleep(1.0 if args.concurrency >= 256 else 0.3)  # warm-up: connections open
    cpu0, t0 = time.process_time(), time.monotonic()
    state["measuring"] = True
    await asyncio.sleep(args.seconds)
    state["measuring"] = False
    elapsed, cpu = time.monotonic() - t0, time.process_time() - cpu0
    state["stop"] = True
    await asyncio.gather(*tasks, return_exceptions=True)
    done = state["done"]
    print(f"{done / elapsed:.1f} {cpu / done * 1e6 if done else 0:.1f} {state['errors']}")


if __name__ == "__main__":
    asyncio.run(main())
