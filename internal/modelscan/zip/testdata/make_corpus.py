#!/usr/bin/python3
"""Writes the zip analyzer's test corpus. Run from this directory with
Debian's /usr/bin/python3; the outputs are committed so tests need no
python. Malicious pickles are written as raw opcodes, never unpickled."""
import io, os, pickle, struct, zipfile, zlib, textwrap, sys

# posix.system("id") as protocol-2 opcodes, written by hand.
EVIL = b'\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.'
GOOD = pickle.dumps({'weights': [1.0, 2.0], 'name': 'tiny'}, protocol=2)

def save(name, data):
    with open(name, 'wb') as f:
        f.write(data)

def mkzip(members, **kw):
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', **kw) as z:
        for m in members:
            if isinstance(m, zipfile.ZipInfo):
                raise ValueError
            name, data = m[0], m[1]
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = m[2] if len(m) > 2 else zipfile.ZIP_STORED
            if len(m) > 3:
                m[3](info)
            z.writestr(info, data)
    return bytearray(b.getvalue())

def central_offset(z, i):
    """Offset of the i-th central directory entry."""
    eocd = z.rfind(b'PK\x05\x06')
    off = struct.unpack_from('<I', z, eocd + 16)[0]
    for _ in range(i):
        nl, xl, cl = struct.unpack_from('<HHH', z, off + 28)
        off += 46 + nl + xl + cl
    return off

def torch_files():
    import torch
    b = io.BytesIO()
    torch.save({'w': torch.arange(6, dtype=torch.float32).reshape(2, 3), 'b': torch.zeros(3)}, b)
    save('torch_state.pt', b.getvalue())
    src = textwrap.dedent('''
        import torch, io, sys
        class M(torch.nn.Module):
            def forward(self, x):
                return x * 2
        b = io.BytesIO()
        torch.jit.save(torch.jit.script(M()), b)
        sys.stdout.buffer.write(b.getvalue())
    ''')
    open('/tmp/_mkts.py', 'w').write(src)
    import subprocess
    out = subprocess.run(['/usr/bin/python3', '/tmp/_mkts.py'], check=True, capture_output=True).stdout
    os.remove('/tmp/_mkts.py')
    save('torchscript.pt', out)

torch_files()

save('benign.zip', mkzip([('model/data.pkl', GOOD), ('model/notes/', b'')]))
save('deflate_evil.zip', mkzip([('payload.bin', EVIL, zipfile.ZIP_DEFLATED)]))
save('bzip2_evil.zip', mkzip([('payload.bin', EVIL, zipfile.ZIP_BZIP2)]))
save('lzma_member.zip', mkzip([('payload.bin', GOOD, zipfile.ZIP_LZMA)]))
# zip64: force_zip64 on the member
b = io.BytesIO()
with zipfile.ZipFile(b, 'w') as z:
    with z.open('a.pkl', 'w', force_zip64=True) as w:
        w.write(GOOD)
save('zip64.zip', b.getvalue())

# Bad CRC: flip a byte of the stored data; headers keep the old CRC.
z = mkzip([('payload.bin', GOOD)])
i = z.find(GOOD)
z[i + len(GOOD) - 2] ^= 0x01
save('bad_crc.zip', z)

# Encrypted flag set (content is really plain): local and central.
z = mkzip([('payload.bin', EVIL)])
struct.pack_into('<H', z, 6, struct.unpack_from('<H', z, 6)[0] | 1)
c = central_offset(z, 0)
struct.pack_into('<H', z, c + 8, struct.unpack_from('<H', z, c + 8)[0] | 1)
save('encrypted.zip', z)

save('traversal_dotdot.zip', mkzip([('../../evil.pkl', GOOD)]))
# zipfile strips leading slashes and drive letters: patch names in place.
def rename(z, old, new):
    assert len(old) == len(new)
    return bytearray(bytes(z).replace(old, new))
save('traversal_abs.zip', rename(mkzip([('etc/cron.d/x', GOOD)]), b'etc/cron.d/x', b'/tc/cron.d/x'))
save('traversal_drive.zip', rename(mkzip([('Cx/Windows/x.pkl', GOOD)]), b'Cx/Windows/x.pkl', b'C:/Windows/x.pkl'))
save('traversal_backslash.zip', rename(mkzip([('aa/aa/evil.pkl', GOOD)]), b'aa/aa/evil.pkl', b'..\\..\\evil.pkl'))

def symlink(info):
    info.create_system = 3
    info.external_attr = (0o120777 << 16)
save('symlink.zip', mkzip([('model/weights.bin', b'/etc/passwd', zipfile.ZIP_STORED, symlink)]))

import warnings
warnings.simplefilter('ignore')
save('duplicate.zip', mkzip([('archive/data.pkl', GOOD), ('archive/data.pkl', EVIL)]))
save('duplicate_case.zip', mkzip([('Model.pkl', GOOD), ('model.pkl', GOOD)]))

# Local header names another member than the central directory.
z = mkzip([('safe.pkl', EVIL)])
lo = z.find(b'safe.pkl')
z[lo:lo + 8] = b'evil.pkl'
save('name_mismatch.zip', z)

# Local header sizes disagree with the directory.
z = mkzip([('payload.bin', GOOD)])
struct.pack_into('<I', z, 18, 3)
save('size_mismatch.zip', z)

# An unlisted local entry before the archive: only streaming readers see it.
prefix = mkzip([('hidden.pkl', EVIL)])
prefix = prefix[:prefix.find(b'PK\x01\x02')]
b = io.BytesIO()
b.write(bytes(prefix))
with zipfile.ZipFile(b, 'w') as zz:
    zz.writestr(zipfile.ZipInfo('data.pkl', date_time=(2024, 1, 1, 0, 0, 0)), GOOD)
save('prepended.zip', b.getvalue())

# Raw bytes between two members.
z = mkzip([('a.pkl', GOOD), ('b.pkl', GOOD)])
c1 = central_offset(z, 1)
second = struct.unpack_from('<I', z, c1 + 42)[0]
z = z[:second] + EVIL + z[second:]
# shift the offsets of the second member and the central directory
eocd = z.rfind(b'PK\x05\x06')
cd = struct.unpack_from('<I', z, eocd + 16)[0] + len(EVIL)
struct.pack_into('<I', z, eocd + 16, cd)
nl, xl, cl = struct.unpack_from('<HHH', z, cd + 28)
struct.pack_into('<I', z, cd + 46 + nl + xl + cl + 42, second + len(EVIL))
save('hidden_between.zip', z)

# Trailing pickle after the end record.
save('trailing.zip', bytes(mkzip([('a.pkl', GOOD)])) + EVIL)

# Two directory entries share one local header.
z = mkzip([('aaaa.pkl', GOOD), ('bbbb.pkl', EVIL)])
c0, c1 = central_offset(z, 0), central_offset(z, 1)
struct.pack_into('<I', z, c1 + 42, struct.unpack_from('<I', z, c0 + 42)[0])
save('overlap.zip', z)

# Nested: a zip inside a zip with the payload.
inner = bytes(mkzip([('evil.pkl', EVIL)]))
save('nested.zip', mkzip([('inner.zip', inner, zipfile.ZIP_DEFLATED)]))
