#!/usr/bin/env python3
"""Measures `ovstream serve` (see docs/service.md): add/remove latency, many streams
added one by one, and the API under concurrent load. Starts the service itself on 127.0.0.1.

    python3 scripts/serve_bench.py [--streams 16] [--load-clients 200] [--load-seconds 10]
"""
import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "bench-token"


def call(port, method, path, body=None, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, (json.loads(data) if data and r.getheader("Content-Type", "").startswith("application/json") else data)


def streams(port):
    return {s["name"]: s for s in call(port, "GET", "/api/streams")[1]}


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--load-clients", type=int, default=200)
    ap.add_argument("--load-seconds", type=float, default=10.0)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="serve-bench-")
    with open(os.path.join(tmp, "token"), "w") as f:
        f.write(TOKEN)
    with open(os.path.join(tmp, "serve.toml"), "w") as f:
        f.write(f'[model]\nmodel = "pedestrian-ssdlite"\n[output]\nmetadata = "{tmp}/out/{{name}}.jsonl"\n')
    port = 18000 + os.getpid() % 1000
    proc = subprocess.Popen(
        [os.path.join(ROOT, "target/release/ovstream"), "serve", os.path.join(tmp, "serve.toml"),
         "--api", f"127.0.0.1:{port}", "--api-token-file", os.path.join(tmp, "token"),
         "--state", os.path.join(tmp, "state.json")],
        cwd=ROOT, stderr=subprocess.DEVNULL, env={**os.environ, "OVSTREAM_LOG": "warn"})
    try:
        deadline = time.time() + 60
        while True:
            try:
                if call(port, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                sys.exit("the service did not become ready")
            time.sleep(0.1)
        # 1. Add → first result, delete → finalized.
        adds, deletes = [], []
        for i in range(5):
            t = time.time()
            call(port, "POST", "/api/streams", {"name": f"lat{i}", "input": "test://?width=320&height=240&fps=10"})
            while streams(port)[f"lat{i}"]["frames"] < 1:
                time.sleep(0.005)
            adds.append(time.time() - t)
            t = time.time()
            call(port, "DELETE", f"/api/streams/lat{i}")
            deletes.append(time.time() - t)
        print(f"add → first result: median {pct(adds, 0.5) * 1000:.0f} ms, max {max(adds) * 1000:.0f} ms")
        print(f"delete → outputs finalized: median {pct(deletes, 0.5) * 1000:.0f} ms, max {max(deletes) * 1000:.0f} ms")
        # 2. Pacing: s00..s03 live through 4 adds and 4 removes of other streams (below
        # saturation); their frame gaps (wall time between results) should stay at 1/fps.
        src = "test://?width=320&height=240&fps=10"
        for i in range(8):
            call(port, "POST", "/api/streams", {"name": f"s{i:02}", "input": src})
            time.sleep(2)
        for i in range(4, 8):
            call(port, "DELETE", f"/api/streams/s{i:02}")
            time.sleep(2)
        print("pacing of 4 streams (10 fps) while 4 others are added one by one, then removed:")
        for name, s in sorted(streams(port).items()):
            g = s["frame_gap_ms"]
            print(f"  {name}: frame gap p50 {g['p50']:.0f} ms, p99 {g['p99']:.0f} ms, max {g['max']:.0f} ms, "
                  f"drops {s['drops']}")
        # 3. Many streams: the box saturates; every stream should get an equal share.
        for i in range(4, args.streams):
            call(port, "POST", "/api/streams", {"name": f"s{i:02}", "input": src})
            time.sleep(2)
        before = streams(port)
        time.sleep(10)
        after = streams(port)
        rows = []
        for name in sorted(after):
            fps = (after[name]["frames"] - before[name]["frames"]) / 10.0
            rows.append((name, fps, after[name]["drops"], after[name]["latency_ms"]["p99"]))
        print(f"{args.streams} streams of test:// 320x240 at 10 fps, 10 s window:")
        print("  FPS per stream: min {:.1f} max {:.1f}; drops total {}; e2e p99 max {:.0f} ms".format(
            min(r[1] for r in rows), max(r[1] for r in rows), sum(r[2] for r in rows), max(r[3] for r in rows)))
        for i in range(4, args.streams):
            call(port, "DELETE", f"/api/streams/s{i:02}")
        # 4. API load with 4 streams.
        def window():
            a = streams(port)
            time.sleep(args.load_seconds)
            b = streams(port)
            return sum(b[n]["frames"] - a[n]["frames"] for n in b) / args.load_seconds
        quiet = window()
        times, stop = [], threading.Event()
        lock = threading.Lock()

        def client():
            while not stop.is_set():
                t = time.time()
                try:
                    call(port, "GET", "/api/streams", timeout=30)
                except OSError:
                    continue
                with lock:
                    times.append(time.time() - t)
        threads = [threading.Thread(target=client, daemon=True) for _ in range(args.load_clients)]
        for t in threads:
            t.start()
        loaded = window()
        stop.set()
        for t in threads:
            t.join()
        print(f"API load: {args.load_clients} concurrent clients, {len(times)} GET /api/streams in "
              f"{args.load_seconds:.0f} s: p50 {pct(times, 0.5) * 1000:.1f} ms, p99 {pct(times, 0.99) * 1000:.1f} ms")
        print(f"pipeline FPS (4 streams) under load {loaded:.1f} vs quiet {quiet:.1f}: {loaded / quiet:.3f}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
