#!/usr/bin/python3
"""Generates the HDF5 (Keras 2 .h5) test corpus with Debian's python3-h5py.

Run from this directory: /usr/bin/python3 make_corpus.py
Nothing here is ever loaded by Keras: the malicious samples only carry
configs naming a Lambda layer or os.system, written as plain strings.
"""
import json

import h5py
import numpy as np


def dense(name, units):
    return {"class_name": "Dense", "config": {"name": name, "units": units, "activation": "relu",
                                              "use_bias": True, "trainable": True}}


def sequential(layers):
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}


BENIGN = sequential([dense("dense", 8), dense("dense_1", 2)])
LAMBDA = sequential([dense("dense", 8), {"class_name": "Lambda", "config": {
    "name": "lambda", "function": ["4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMEAAAAfABTACkBTqkAKQHaAXhyAQAAAHIBAAAA", None, None],
    "function_type": "lambda", "output_shape": None}}])
OSSYS = sequential([dense("dense", 8), {"module": "os", "class_name": "system", "config": {"name": "x"}}])
TRAINING = {"loss": "mse", "optimizer_config": {"class_name": "Adam", "config": {"learning_rate": 0.001}}}


def keras_file(path, config, vlen=False, libver="earliest", extra_attrs=0, links=0):
    f = h5py.File(path, "w", libver=libver)
    with f:
        f.attrs["keras_version"] = b"2.11.0"
        f.attrs["backend"] = b"tensorflow"
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([b"dense", b"dense_1"])
        g.create_dataset("dense/kernel:0", data=np.arange(32, dtype="float32").reshape(4, 8))
        for i in range(links):
            f.create_dataset("w%d" % i, data=np.zeros(4, dtype="float32"))
        for i in range(extra_attrs):
            f.attrs["extra_%d" % i] = np.int64(i)
        if config is not None:
            text = json.dumps(config)
            if vlen:
                f.attrs["model_config"] = text  # str: variable-length string in the global heap
                f.attrs["training_config"] = json.dumps(TRAINING)
            else:
                # numpy bytes: a fixed-length string stored in the attribute itself
                f.attrs["model_config"] = np.bytes_(text.encode())
                f.attrs["training_config"] = np.bytes_(json.dumps(TRAINING).encode())


keras_file("benign_fixed.h5", BENIGN)
keras_file("benign_vlen.h5", BENIGN, vlen=True)
keras_file("benign_latest.h5", BENIGN, libver="latest")
keras_file("benign_vlen_latest.h5", BENIGN, vlen=True, libver="latest")
keras_file("benign_v18.h5", BENIGN, libver=("v108", "v108"))
# Many attributes added after the header exists: a continuation block.
keras_file("benign_continuation.h5", BENIGN, extra_attrs=40)
keras_file("benign_ochk.h5", BENIGN, libver="latest", links=30, extra_attrs=2)
keras_file("weights_only.h5", None)
keras_file("weights_only_latest.h5", None, libver="latest")

keras_file("lambda.h5", LAMBDA)
keras_file("lambda_vlen.h5", LAMBDA, vlen=True)
keras_file("lambda_latest.h5", LAMBDA, libver="latest")
keras_file("lambda_continuation.h5", LAMBDA, extra_attrs=40)
keras_file("os_system.h5", OSSYS)
keras_file("os_system_vlen_latest.h5", OSSYS, vlen=True, libver="latest")
# Dense attribute storage (fractal heap + name index): a config over
# 64 KiB (a huge heap object), many attributes (managed objects, an
# indirect block), variable-length strings there, and an index too big
# for one B-tree node (depth 1).
big = sequential([dense("dense_%d" % i, 8) for i in range(1200)])
big_lambda = sequential([dense("dense_%d" % i, 8) for i in range(1200)] + LAMBDA["config"]["layers"][1:])
keras_file("benign_dense_huge.h5", big, libver="latest")
keras_file("benign_dense_many.h5", BENIGN, libver="latest", extra_attrs=20)
keras_file("benign_dense_vlen.h5", BENIGN, vlen=True, libver="latest", extra_attrs=20)
keras_file("huge_vlen.h5", big, vlen=True)
keras_file("lambda_ochk.h5", LAMBDA, libver="latest", links=30, extra_attrs=2)
keras_file("lambda_dense_huge.h5", big_lambda, libver="latest")
keras_file("lambda_dense_many.h5", LAMBDA, libver="latest", extra_attrs=20)
keras_file("os_system_dense_vlen.h5", OSSYS, vlen=True, libver="latest", extra_attrs=20)
keras_file("lambda_dense_deep.h5", LAMBDA, libver="latest", extra_attrs=300)
keras_file("benign_dense_deep.h5", BENIGN, libver="latest", extra_attrs=300)

with open("benign_fixed.h5", "rb") as src:
    data = src.read()
with open("truncated.h5", "wb") as dst:
    dst.write(data[:600])
