"""What travels between a host and its clients comes back as it left: frames with their dtypes,
handles bound to the receiving studio, events, and errors of the same class."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

import imagen_nb as inb
from imagen_nb.core.records import GenerationProgress, ModelInfo
from imagen_nb.studio import wire


def roundtrip(value, studio=None, home=None):
    return wire.decode(json.loads(wire.dumps(wire.encode(value, home))), studio)


def test_a_frame_keeps_its_columns_dtypes_and_missing_values():
    frame = pd.DataFrame({
        "n": [1, 2], "x": [1.5, np.nan], "text": ["a", None],
        "at": pd.to_datetime(["2026-01-01 10:00", "2026-01-02 00:00"], utc=True), "params": [{"seed": 1}, None],
        "rating": pd.array([4, None], dtype="Int8"), "tags": [["a", "b"], []], "ok": [True, False]})
    back = roundtrip(frame)
    assert list(back.columns) == list(frame.columns) and back.dtypes.equals(frame.dtypes)
    assert back["params"][0] == {"seed": 1} and back["tags"][0] == ["a", "b"] and back["rating"].isna()[1]
    assert back["at"].equals(frame["at"]) and np.isnan(back["x"][1])
    same_names = roundtrip(pd.DataFrame([[1, 2]], columns=["n", "n"]))  # user SQL may repeat a name
    assert list(same_names.columns) == ["n", "n"] and same_names.values.tolist() == [[1, 2]]


def test_handles_events_and_models_come_back_bound_to_the_receiving_studio(tmp_path):
    class Receiver:
        home = tmp_path / "elsewhere"

    product = inb.Product(id="p", path=tmp_path / "products" / "p.png", media_type="image/png", width=8, height=8,
                          size=1, sha256="s", model_id=None, order_id=None, generation_id=None, project_id=None,
                          source="imported", rating=None, params={"$odd": 1}, created_at=pd.Timestamp("2026-01-01"))
    back = roundtrip([product, inb.Order(None, "o1")], Receiver, tmp_path)
    assert back[0].path == Receiver.home / "products" / "p.png" and back[0]._studio is Receiver
    assert back[0].params == {"$odd": 1}  # a key that looks like a tag stays a key
    assert isinstance(back[1], inb.Order) and back[1].id == "o1" and back[1]._studio is Receiver
    event = GenerationProgress(order_id="o", generation_id="g", step=2, total=4)
    assert roundtrip(event) == event
    model = ModelInfo("instant", "swatch", "text-to-image", "swatch", {"type": "object"})
    assert roundtrip(model) == model and roundtrip(Path("/x")) == Path("/x")


def test_errors_come_back_as_the_same_class_with_their_fields():
    err = wire.decode_error(json.loads(wire.dumps(wire.encode_error(inb.SmartParameterError("seed", 3, "bad")))))
    assert isinstance(err, inb.SmartParameterError) and (err.param, err.column) == ("seed", 3)
    assert isinstance(wire.decode_error(wire.encode_error(KeyError("animal"))), KeyError)
    odd = wire.decode_error({"type": "SomethingElse", "message": "boom"})
    assert isinstance(odd, inb.ImagenError) and "boom" in str(odd)


def test_our_reports_come_back_as_their_class():
    from imagen_nb.engine.backup import BackupReport

    report = BackupReport(Path("/b"), 3, 1024)
    assert roundtrip(report) == report
