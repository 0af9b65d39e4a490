"""Waits (up to 15 s) until a URL answers 200; exits 1 if it never does."""
import sys
import time
import urllib.request

deadline = time.time() + 15
while time.time() < deadline:
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=1) as response:
            if response.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
print(f"{sys.argv[1]} did not answer", file=sys.stderr)
sys.exit(1)
