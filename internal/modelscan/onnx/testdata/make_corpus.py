#!/usr/bin/python3
"""Writes the ONNX corpus: a real export with torch.onnx (python3-onnx is
not installed, torch's exporter does not need it) and hand-encoded
ModelProto bytes for external-data escapes and custom domains."""
import io, os, struct
import torch

def varint(n):
    out = b''
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def fld(num, payload):
    if isinstance(payload, int):
        return varint(num << 3) + varint(payload)
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(num << 3 | 2) + varint(len(payload)) + payload

def tensor(name, location=None, raw=None):
    t = fld(1, 4) + fld(2, 1) + fld(8, name)  # dims=[4], FLOAT
    if raw is not None:
        t += fld(9, raw)
    if location is not None:
        t += fld(13, fld(1, 'location') + fld(2, location)) + fld(13, fld(1, 'offset') + fld(2, '0')) + fld(14, 1)
    return t

def node(op, domain='', inputs=('x',), outputs=('y',), attrs=b''):
    n = b''.join(fld(1, i) for i in inputs) + b''.join(fld(2, o) for o in outputs) + fld(4, op)
    if domain:
        n += fld(7, domain)
    return n + attrs

def model(nodes, inits=(), opsets=(('', 13),), extra=b''):
    g = b''.join(fld(1, n) for n in nodes) + fld(2, 'g') + b''.join(fld(5, t) for t in inits)
    m = fld(1, 8) + fld(2, 'rampart-corpus') + fld(7, g)
    for d, v in opsets:
        m += fld(8, (fld(1, d) if d else b'') + fld(2, v))
    return m + extra

def save(name, b):
    open(name, 'wb').write(b)

m = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
b = io.BytesIO()
torch.onnx.export(m, torch.zeros(1, 3), b, input_names=['x'], output_names=['y'])
save('torch_export.onnx', b.getvalue())

save('external_ok.onnx', model([node('Relu')], [tensor('w', 'weights.bin')]))
save('external_dotdot.onnx', model([node('Relu')], [tensor('w', '../../etc/passwd')]))
save('external_abs.onnx', model([node('Relu')], [tensor('w', '/etc/passwd')]))
save('external_symlink.onnx', model([node('Relu')], [tensor('w', 'link.bin')]))
save('external_hardlink.onnx', model([node('Relu')], [tensor('w', 'hard.bin')]))
save('external_no_location.onnx', model([node('Relu')], [fld(1, 4) + fld(8, 'w') + fld(14, 1)]))
save('custom_domain.onnx', model([node('Relu'), node('EvilOp', 'com.attacker', ('y',), ('z',))], opsets=(('', 13), ('com.attacker', 1))))
# Escape hidden in an If subgraph's initializer.
sub = fld(5, tensor('s', '../secret')) + fld(2, 'then')
save('external_in_subgraph.onnx', model([node('If', attrs=fld(5, fld(1, 'then_branch') + fld(6, sub) + fld(20, 5)))]))
# A model-local function in its own domain is not a custom op.
func = fld(1, 'MyRelu') + fld(10, 'local.funcs') + fld(7, node('Relu'))
save('local_function.onnx', model([node('MyRelu', 'local.funcs')], opsets=(('', 13), ('local.funcs', 1)), extra=fld(25, func)))
save('truncated.onnx', model([node('Relu')], [tensor('w', raw=b'\0' * 64)])[:-20])
