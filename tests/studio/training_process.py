"""A process that trains a LoRA, for the SIGKILL test: ``python training_process.py HOME NAME STEPS EVERY``.

Imports the images given as the remaining arguments, starts ``studio.train_lora`` on them and
prints ``CHECKPOINT <step>`` at its first checkpoint; then it holds the training thread in the
event callback (the bus calls subscribers on the publishing thread) so the test's SIGKILL lands
while the run is recorded as training, past that checkpoint.
"""

import json
import sys
import time

import imagen_nb as inb
from imagen_nb.core.training import TrainingStatusChanged

home, name, steps, every, config_json, *files = sys.argv[1:]
studio = inb.Studio(home, serve=False)
products = studio.import_products(files)
captions = {p.id: f"a square number {i}" for i, p in enumerate(products)}


def on_event(event):
    if isinstance(event, TrainingStatusChanged) and event.message.startswith("checkpoint"):
        print("CHECKPOINT", event.step, flush=True)
        time.sleep(600)  # the test kills this process meanwhile


studio.subscribe(on_event)
run = studio.train_lora(name, products=[p.id for p in products], captions=captions, steps=int(steps),
                        checkpoint_every=int(every), **json.loads(config_json))
print("STARTED", run.id, flush=True)
run.wait()
print("FINISHED", run.status, flush=True)
