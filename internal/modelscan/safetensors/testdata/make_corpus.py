#!/usr/bin/python3
"""Writes the safetensors corpus. Valid files use torch's tensors and the
format's layout written by hand (python3-safetensors is not installed);
abusive ones patch the header."""
import json, struct
import numpy as np

def st(tensors, metadata=None, raw_header=None, pad=True):
    """tensors: list of (name, dtype, shape, bytes, (begin, end) or None)."""
    header, data = {}, b''
    if metadata is not None:
        header['__metadata__'] = metadata
    for name, dtype, shape, blob, offs in tensors:
        if offs is None:
            offs = (len(data), len(data) + len(blob))
            data += blob
        header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': list(offs)}
    h = raw_header if raw_header is not None else json.dumps(header, separators=(',', ':')).encode()
    if pad:
        h += b' ' * ((8 - len(h) % 8) % 8)
    return struct.pack('<Q', len(h)) + h + data

def save(name, b):
    open(name, 'wb').write(b)

w = np.arange(12, dtype=np.float32).tobytes()
b = np.ones(4, dtype=np.float16).tobytes()
save('valid.safetensors', st([('w', 'F32', [3, 4], w, None), ('b', 'F16', [4], b, None)], {'format': 'pt'}))
save('model-00001-of-00002.safetensors', st([('layer0.w', 'F32', [3, 4], w, None)]))
save('model-00002-of-00002.safetensors', st([('layer1.b', 'F16', [4], b, None)]))
save('model.safetensors.index.json', json.dumps({'metadata': {'total_size': 56},
    'weight_map': {'layer0.w': 'model-00001-of-00002.safetensors', 'layer1.b': 'model-00002-of-00002.safetensors'}}, indent=2).encode())
save('evil.safetensors.index.json', json.dumps({'metadata': {}, 'weight_map': {'w': '../../../etc/shadow'}}).encode())
save('overlap.safetensors', st([('a', 'F32', [4], None, (0, 16)), ('b', 'F32', [4], None, (8, 24))]) + w[:24])
save('out_of_file.safetensors', st([('a', 'F32', [4], None, (0, 16)), ('b', 'F32', [1024], None, (16, 16 + 4096))]) + w[:16])
save('size_mismatch.safetensors', st([('a', 'F32', [3, 4], None, (0, 16))]) + w[:16])
save('gap.safetensors', st([('a', 'F32', [2], None, (0, 8)), ('b', 'F32', [2], None, (24, 32))]) + w[:32])
save('huge_header.safetensors', struct.pack('<Q', 1 << 40) + b'{"a":1}')
save('duplicate_key.safetensors', st([], raw_header=b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}') + w[:4])
save('bad_utf8.safetensors', st([], raw_header=b'{"\xff\xfe":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}') + w[:4])
save('bad_metadata.safetensors', st([('a', 'F32', [1], w[:4], None)], {'n': 1}))
