#!/usr/bin/env python3
"""Builds the .keras archives (Keras 3 format: a zip of config.json,
metadata.json and model.weights.h5) used by Rampart's evaluation test.
Keras itself is not needed: the config is the JSON Keras 3 writes, and the
weights file is the weights-only HDF5 file from the hdf5 corpus."""
import json, zipfile

WEIGHTS = open("../../hdf5/testdata/weights_only.h5", "rb").read()

def layer(cls, cfg, module="keras.layers"):
    return {"module": module, "class_name": cls, "config": cfg, "registered_name": None}

def model(extra):
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "sequential", "layers": [layer("InputLayer", {"batch_shape": [None, 30]}),
                                                        layer("Dense", {"units": 16, "activation": "relu"}),
                                                        layer("Dense", {"units": 2, "activation": "softmax"})] + extra},
            "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "Adam", "config": {"learning_rate": 0.001}, "registered_name": None},
                               "loss": "sparse_categorical_crossentropy"}}

def save(name, cfg):
    with zipfile.ZipFile(name, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.3.3", "date_saved": "2026-12-01@00:00:00"}))
        z.writestr("config.json", json.dumps(cfg))
        z.writestr("model.weights.h5", WEIGHTS)

save("benign.keras", model([]))
save("lambda.keras", model([layer("Lambda", {"function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAAAAAAAAEAAAADAAAAQwAAAHMIAAAAdABkAYMBUwApAk7aAmlkKQHaBnN5c3RlbSkB2gF4qQByAwAAAHoIPHN0ZGluPnoIPGxhbWJkYT4BAAAAcwAAAAA=", "defaults": None, "closure": None}}})]))
save("os_activation.keras", model([layer("Dense", {"units": 2, "activation": {"module": "os", "class_name": "function", "config": "system", "registered_name": None}})]))
save("custom_layer.keras", model([layer("Gated", {"units": 2}, module="acme.layers")]))
