#!/usr/bin/python3
"""Writes the compressed-stream corpus with Debian's python3-joblib and
python3-sklearn. Malicious pickles are raw opcodes, never unpickled."""
import bz2, gzip, io, lzma, zlib
import numpy as np
import joblib
from joblib import numpy_pickle_compat
from sklearn.linear_model import LogisticRegression

EVIL = b'\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.'

def save(name, data):
    with open(name, 'wb') as f:
        f.write(data)

model = LogisticRegression().fit(np.array([[0.], [1.], [2.], [3.]]), [0, 0, 1, 1])
for c in ['zlib', 'gzip', 'bz2', 'lzma', 'xz']:
    b = io.BytesIO()
    joblib.dump(model, b, compress=(c, 3))
    save('model_%s.joblib' % c, b.getvalue())

b = io.BytesIO()
numpy_pickle_compat.write_zfile(b, EVIL)
save('evil_zfile.joblib', b.getvalue())
save('evil_zlib.joblib', zlib.compress(EVIL))
save('evil_gzip.joblib', gzip.compress(EVIL, mtime=0))
save('evil_xz.joblib', lzma.compress(EVIL, format=lzma.FORMAT_XZ))
save('evil_lzma.joblib', lzma.compress(EVIL, format=lzma.FORMAT_ALONE))
save('evil_bz2.joblib', bz2.compress(EVIL))
# Payload first, then a corrupt tail: the loader runs the payload before
# it reaches the error.
c = zlib.compress(EVIL + bytes(range(256)) * 4)
save('evil_zlib_corrupt.joblib', c[:len(c) - 100] + b'\xff' * 16)
# Two zlib streams back to back, payload in the second.
save('evil_zlib_two_streams.joblib', zlib.compress(EVIL[:2]) + zlib.compress(EVIL[2:]))
