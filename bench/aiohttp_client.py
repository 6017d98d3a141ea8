#!/usr/bin/env python3
"""The seed article's load generator, for bench/speed.sh: asyncio + aiohttp, N tasks in flight.

One shared ClientSession; C worker tasks (100 in the article) each send a chat completion,
read the JSON answer and record latency and usage, until N requests are done. Prints one JSON
object with the same `requests_per_second` meaning as `llmtop bench --format json`:
requests finished / wall time from the first send to the last answer.
"""
import argparse
import asyncio
import json
import statistics
import sys
import time

import aiohttp


async def worker(session, url, body, remaining, latencies, failures, tokens):
    while remaining[0] > 0:
        remaining[0] -= 1
        start = time.perf_counter()
        try:
            async with session.post(url, json=body) as response:
                data = await response.json(content_type=None)
                if response.status != 200:
                    failures[0] += 1
                    continue
            latencies.append(time.perf_counter() - start)
            usage = data.get("usage") or {}
            tokens[0] += usage.get("prompt_tokens", 0)
            tokens[1] += usage.get("completion_tokens", 0)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            failures[0] += 1


async def run(args):
    url = args.url.rstrip("/") + "/v1/chat/completions"
    body = {
        "model": args.model,
        "messages": [{"role": "user", "content": args.prompt}],
        "stream": False,
        "max_tokens": args.max_tokens,
    }
    # The article's client: aiohttp's defaults, except a pool as large as the concurrency.
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    latencies, failures, tokens, remaining = [], [0], [0, 0], [args.requests]
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        await asyncio.gather(
            *(
                worker(session, url, body, remaining, latencies, failures, tokens)
                for _ in range(min(args.concurrency, args.requests))
            )
        )
        elapsed = time.perf_counter() - start
    done = len(latencies) + failures[0]
    latencies.sort()

    def quantile(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else None

    return {
        "requests_done": done,
        "requests_ok": len(latencies),
        "requests_failed": failures[0],
        "total_time_seconds": elapsed,
        "requests_per_second": done / elapsed if elapsed > 0 else None,
        "latency_avg": statistics.fmean(latencies) if latencies else None,
        "latency_p50": quantile(0.50),
        "latency_p99": quantile(0.99),
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="API origin, e.g. http://127.0.0.1:8080")
    parser.add_argument("-n", "--requests", type=int, default=1000)
    parser.add_argument("-c", "--concurrency", type=int, default=100)
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument("--prompt", default="Say hello.")
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1:
        parser.error("-n and -c must be at least 1")
    json.dump(asyncio.run(run(args)), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
