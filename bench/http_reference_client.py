#!/usr/bin/env python3
"""Reference clients for bench_http: the same Chat Completions request as the C++ side, sent by
N asyncio tasks over N keep-alive HTTP/1.1 connections to 127.0.0.1:PORT. Two clients:
  --client raw      (default) standard library only: asyncio streams, a minimal HTTP/1.1
                    parser, json -- the leanest Python asyncio client, the strict reference;
  --client aiohttp  aiohttp.ClientSession (Debian python3-aiohttp), the asyncio HTTP client
                    Python evaluation harnesses use for API models (lm-eval-harness's
                    local-completions/chat models, for one).
Prints one line: "requests_per_second cpu_us_per_request errors"."""
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


async def aiohttp_worker(session, url, state):
    payload = json.loads(BODY)
    while not state["stop"]:
        async with session.post(url, json=payload) as resp:
            body = await resp.json(content_type=None)
            ok = resp.status == 200 and body["choices"][0]["message"]["content"]
        if state["measuring"]:
            if ok:
                state["done"] += 1
            else:
                state["errors"] += 1


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--seconds", type=float, default=3)
    p.add_argument("--client", choices=["raw", "aiohttp"], default="raw")
    args = p.parse_args()
    state = {"stop": False, "measuring": False, "done": 0, "errors": 0}
    session = None
    if args.client == "aiohttp":
        import aiohttp  # only this client needs it
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency))
        url = f"http://127.0.0.1:{args.port}/v1/chat/completions"
        tasks = [asyncio.create_task(aiohttp_worker(session, url, state))
                 for _ in range(args.concurrency)]
    else:
        tasks = [asyncio.create_task(worker(args.port, state)) for _ in range(args.concurrency)]
    await asyncio.sleep(1.0 if args.concurrency >= 256 else 0.3)  # warm-up: connections open
    cpu0, t0 = time.process_time(), time.monotonic()
    state["measuring"] = True
    await asyncio.sleep(args.seconds)
    state["measuring"] = False
    elapsed, cpu = time.monotonic() - t0, time.process_time() - cpu0
    state["stop"] = True
    await asyncio.gather(*tasks, return_exceptions=True)
    if session is not None:
        await session.close()
    done = state["done"]
    print(f"{done / elapsed:.1f} {cpu / done * 1e6 if done else 0:.1f} {state['errors']}")


if __name__ == "__main__":
    asyncio.run(main())
