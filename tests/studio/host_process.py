"""A process that hosts a home, for tests: ``python host_process.py HOME``.

Prints ``READY <pid>`` once it serves the home, then answers one command per line on stdin:
``gallery`` (prints the number of products it sees), ``order <prompt>`` (places an instant:swatch
order of two generations, prints its id), ``quit`` (closes the studio and exits).
"""

import os
import sys

import imagen_nb as inb

studio = inb.Studio(sys.argv[1])
assert studio.is_host, "the test expected this process to host the home"
print("READY", os.getpid(), flush=True)
for line in sys.stdin:
    command, _, arg = line.strip().partition(" ")
    if command == "gallery":
        print(studio.gallery_count(), flush=True)
    elif command == "order":
        print(studio.order("instant:swatch", prompt=arg, seed="[1,2]").wait().id, flush=True)
    elif command == "quit":
        break
studio.close()
print("CLOSED", flush=True)
