#!/usr/bin/python3
"""Writes the numpy analyzer's test corpus with Debian's python3-numpy.
Malicious pickles are raw opcodes, never unpickled; outputs are committed."""
import io, struct, zipfile
import numpy as np

EVIL = b'\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.'

def save(name, data):
    with open(name, 'wb') as f:
        f.write(data)

def npy(arr, **kw):
    b = io.BytesIO()
    np.save(b, arr, **kw)
    return b.getvalue()

def header(d, version=1):
    """An npy preamble with header dict text d, padded as numpy pads."""
    h = d.encode('latin1')
    pre = 10 if version == 1 else 12
    pad = (64 - (pre + len(h) + 1) % 64) % 64
    h = h + b' ' * pad + b'\n'
    if version == 1:
        return b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h
    return b'\x93NUMPY' + bytes([version, 0]) + struct.pack('<I', len(h)) + h

save('float.npy', npy(np.arange(12, dtype=np.float32).reshape(3, 4)))
save('fortran.npy', npy(np.asfortranarray(np.ones((2, 3), dtype='>i8'))))
save('structured.npy', npy(np.zeros(3, dtype=[('a', '<f4'), ('b', '<i2', (2,))])))
save('datetime.npy', npy(np.array(['2024-01-01'], dtype='datetime64[ns]')))
save('unicode.npy', npy(np.array(['ab', 'cde'])))
save('object.npy', npy(np.array([{'a': 1}, [1, 2]], dtype=object), allow_pickle=True))
save('v2.npy', header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 2) + b'\0' * 16)
save('evil_object.npy', header("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }") + EVIL)
save('evil_struct_object.npy', header("{'descr': [('x', '<f4'), ('y', '|O')], 'fortran_order': False, 'shape': (1,), }") + EVIL)
good = npy(np.arange(4, dtype=np.int32))
save('truncated.npy', good[:-3])
save('trailing.npy', good + EVIL)
save('eval_header.npy', header("{'descr': __import__('os').system('id'), 'fortran_order': False, 'shape': (1,), }") + b'\0' * 8)
save('extra_key.npy', header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}") + b'\0' * 4)

b = io.BytesIO()
np.savez(b, w=np.ones(3), names=np.array(['a', None], dtype=object))
save('object.npz', b.getvalue())
b = io.BytesIO()
np.savez_compressed(b, w=np.ones(3))
save('compressed.npz', b.getvalue())
b = io.BytesIO()
with zipfile.ZipFile(b, 'w') as z:
    z.writestr('w.npy', npy(np.ones(2)))
    z.writestr('evil.npy', header("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }") + EVIL)
save('evil.npz', b.getvalue())
