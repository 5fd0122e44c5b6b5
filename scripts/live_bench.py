#!/usr/bin/env python3
"""Measures the live view of `ovstream serve` (see docs/live.md): the service's CPU with 0, 1
and 4 `live.mp4` viewers and with 1 `live.mjpeg` viewer of one stream, bytes/s per viewer, and
the latency from a frame's result to its bytes on the socket (p50/p99, from `…/live`). Starts
the service itself on 127.0.0.1; CPU is the process's user+system time over each window.

    python3 scripts/live_bench.py [--input samples/camera_walkway.mp4] [--seconds 10]

The default input is the bundled 720p30 H.264 camera clip, read in real time and looped (a
camera stand-in); `--input test://?width=1280&height=720&fps=25` uses a test pattern.
"""
import argparse
import http.client
import json
import os
import socket
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def call(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data) if data.startswith(b"{") or data.startswith(b"[") else data


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Viewer(threading.Thread):
    """Reads a live URL as fast as it comes, counting bytes."""

    def __init__(self, port, path):
        super().__init__(daemon=True)
        self.port, self.path, self.bytes, self.stop = port, path, 0, False

    def run(self):
        s = socket.create_connection(("127.0.0.1", self.port))
        s.sendall(f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        while not self.stop:
            b = s.recv(1 << 16)
            if not b:
                break
            self.bytes += len(b)
        s.close()


def window(pid, port, viewers, seconds):
    for v in viewers:
        v.start()
    time.sleep(2)  # encoder start, first keyframe
    c0, b0, t0 = cpu_seconds(pid), [v.bytes for v in viewers], time.time()
    time.sleep(seconds)
    c1, b1, t1 = cpu_seconds(pid), [v.bytes for v in viewers], time.time()
    for v in viewers:
        v.stop = True
    rates = [(b - a) / (t1 - t0) for a, b in zip(b0, b1)]
    return (c1 - c0) / (t1 - t0), rates


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", default="samples/camera_walkway.mp4")
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="live-bench-")
    with open(os.path.join(tmp, "serve.toml"), "w") as f:
        f.write('[model]\nmodel = "pedestrian-ssdlite"\n[source]\nloop = true\nrealtime = true\n'
                f'[serve]\nmedia_roots = ["{ROOT}/samples"]\n')
    source = args.input if "://" in args.input else os.path.abspath(args.input)
    port = 19000 + os.getpid() % 1000
    proc = subprocess.Popen(
        [os.path.join(ROOT, "target/release/ovstream"), "serve", os.path.join(tmp, "serve.toml"),
         "--api", f"127.0.0.1:{port}", "--state", os.path.join(tmp, "state.json")],
        cwd=ROOT, stderr=subprocess.DEVNULL, env={**os.environ, "OVSTREAM_LOG": "warn"})
    try:
        deadline = time.time() + 120
        while True:
            try:
                if call(port, "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.time() < deadline, "serve did not start"
            time.sleep(0.2)
        body = json.dumps({"name": "cam", "input": source})
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("POST", "/api/streams", body, {"Content-Type": "application/json"})
        assert c.getresponse().status == 201
        while call(port, "/api/streams/cam")[1]["state"] != "streaming":
            time.sleep(0.2)
        time.sleep(3)
        print(f"one stream, {args.input} (pedestrian SSD on every frame); "
              f"{args.seconds:.0f} s windows")
        print(f"{'viewers':<14}{'CPU (cores)':>12}{'per viewer':>12}{'kB/s each':>12}")
        base = None
        runs = [("0", []), ("1 mp4", ["live.mp4"]), ("4 mp4", ["live.mp4"] * 4),
                ("1 mjpeg 5/s", ["live.mjpeg?fps=5"])]
        for label, paths in runs:
            viewers = [Viewer(port, f"/api/streams/cam/{p}") for p in paths]
            cpu, rates = window(proc.pid, port, viewers, args.seconds)
            base = cpu if base is None else base
            per = (cpu - base) / len(paths) if paths else 0.0
            rate = sum(rates) / len(rates) / 1000 if rates else 0.0
            print(f"{label:<14}{cpu:>12.3f}{per:>12.3f}{rate:>12.1f}")
            time.sleep(3)  # viewers gone, encoder stopped
        live = call(port, "/api/streams/cam/live")[1]
        print(f"live.mp4 latency, frame at the sink to bytes on the socket: "
              f"p50 {live['latency_ms']['p50']:.0f} ms, p99 {live['latency_ms']['p99']:.0f} ms")
        print(f"encoder running now (no viewers): {live['encoding']}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
