#!/usr/bin/env python3
"""Pulls the same STIX objects from rexist's TAXII server and from the OASIS
reference server medallion with the OASIS client taxii2-client, and prints
objects per second for each.

    scripts/taxii_vs_medallion.py target/release/rexist [INDICATORS ...]

Run it with the peers virtualenv's python (scripts/peers.sh makes it:
target/peers-venv/bin/python). For each size it stores INDICATORS generated
domain indicators in a fresh rexist data directory, exports them as a STIX
bundle (three objects each), loads that bundle into medallion's memory
backend, serves both on 127.0.0.1, and pulls every object, 1,000 a page.
Everything stays on loopback and stops when the script ends.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from taxii2client.v21 import Server, as_pages

MEDIA = "application/stix+json;version=2.1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(port, proc, what):
    start = time.time()
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None or time.time() - start > 30:
                sys.exit(f"{what} did not start")
            time.sleep(0.1)


def pull(url, user, password):
    server = Server(url, user=user, password=password)
    collection = server.api_roots[0].collections[0]
    started = time.time()
    count = 0
    for envelope in as_pages(collection.get_objects, per_request=1000):
        count += len(envelope.get("objects", []))
    return count, time.time() - started


def measure(rexist, n, medallion):
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data")
        listing = os.path.join(d, "list.txt")
        with open(listing, "w") as f:
            for i in range(n):
                # Not on any warning list, so active and in the default collection.
                f.write(f"host{i}.bench-malicious.net\n")
        run = lambda *a, **k: subprocess.run(  # noqa: E731
            [rexist, "--data-dir", data, *a], check=True, capture_output=True, text=True, **k)
        run("ingest", "file", listing, "--source", "generated")
        token = run("token", "create", "--name", "bench", "--role", "viewer").stdout.strip()
        bundle = json.loads(run("export", "--format", "stix", "--all").stdout)
        # medallion's memory backend versions objects by `modified`, which
        # marking definitions and observables do not have (it answers 500):
        # it gets the indicators and relationships, rexist serves them all.
        objects = [o for o in bundle["objects"] if "modified" in o]

        # medallion: the same objects in one collection of its memory backend.
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        added = "2026-01-01T00:00:00.000000Z"
        store = {
            "/discovery": {"title": "medallion", "default": f"{base}/api1/",
                           "api_roots": [f"{base}/api1/"]},
            "api1": {
                "information": {"title": "api1", "versions": ["application/taxii+json;version=2.1"],
                                "max_content_length": 104857600},
                "status": [],
                "collections": [{
                    "id": str(uuid.uuid4()), "title": "bench", "can_read": True,
                    "can_write": False, "media_types": [MEDIA], "objects": objects,
                    "manifest": [{"date_added": added, "id": o["id"], "media_type": MEDIA,
                                  "version": o.get("modified", o.get("created", added))}
                                 for o in objects],
                }],
            },
        }
        with open(os.path.join(d, "medallion.json"), "w") as f:
            json.dump(store, f)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"backend": {"module": "medallion.backends.memory_backend",
                                   "module_class": "MemoryBackend",
                                   "filename": os.path.join(d, "medallion.json")},
                       "users": {"admin": "Password0"},
                       "taxii": {"max_page_size": 1000}}, f)
        med = subprocess.Popen([medallion, "--host", "127.0.0.1", "--port", str(port),
                                "--log-level", "ERROR", os.path.join(d, "config.json")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait(port, med, "medallion")
            m_count, m_secs = pull(f"{base}/taxii2/", "admin", "Password0")
        finally:
            med.kill()

        port = free_port()
        rx = subprocess.Popen([rexist, "--data-dir", data, "serve", "--listen", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d)
        try:
            wait(port, rx, "rexist")
            r_count, r_secs = pull(f"http://127.0.0.1:{port}/taxii2/", "bench", token)
        finally:
            rx.kill()
        print(f"{n} indicators, {len(objects)} objects in the bundle: "
              f"medallion {m_count} objects in {m_secs:.2f} s = {m_count / m_secs:,.0f}/s; "
              f"rexist {r_count} objects in {r_secs:.2f} s = {r_count / r_secs:,.0f}/s")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    rexist = os.path.abspath(sys.argv[1])
    medallion = os.path.join(os.path.dirname(sys.executable), "medallion")
    for n in [int(a) for a in sys.argv[2:]] or [333, 1333]:
        measure(rexist, n, medallion)


if __name__ == "__main__":
    main()
