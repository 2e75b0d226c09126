#!/usr/bin/env python3
"""Writes a Model Signing v1.0 bundle with Python's `cryptography`, built
independently of rampart's Go code, laid out as the reference
implementation (sigstore/model-transparency) lays it out: protobuf JSON
names, a public key hint, the statement JSON indented by two spaces, and
ignore_paths with the reference's defaults. TestReferenceBundle verifies it.

Run from this directory: python3 gen.py (needs python3-cryptography).
"""
import base64, hashlib, json, os, pathlib
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

root = pathlib.Path("model")
files = {"config.json": b'{"hidden": 4}\n', "weights/part-1.bin": b"\x00" * 300, "a.b/c": b"c", "a.bin": b"bin"}
for name, data in files.items():
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(data)

key = ec.generate_private_key(ec.SECP256R1())
pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
pathlib.Path("public.pem").write_bytes(pem)

resources = [{"name": n, "algorithm": "sha256", "digest": hashlib.sha256(files[n]).hexdigest()}
             for n in sorted(files, key=lambda n: pathlib.PurePosixPath(n))]
root_digest = hashlib.sha256(b"".join(bytes.fromhex(r["digest"]) for r in resources)).hexdigest()
statement = {
    "_type": "https://in-toto.io/Statement/v1",
    "subject": [{"name": "model", "digest": {"sha256": root_digest}}],
    "predicateType": "https://model_signing/signature/v1.0",
    "predicate": {
        "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False,
                          "ignore_paths": ["model.sig", ".git", ".gitattributes", ".github", ".gitignore"]},
        "resources": resources,
    },
}
payload = json.dumps(statement, indent=2).encode()
ptype = b"application/vnd.in-toto+json"
pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
sig = key.sign(pae, ec.ECDSA(hashes.SHA256()))
bundle = {
    "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
    "verificationMaterial": {"publicKey": {"hint": hashlib.sha256(pem).hexdigest()}},
    "dsseEnvelope": {"payload": base64.b64encode(payload).decode(), "payloadType": ptype.decode(),
                     "signatures": [{"sig": base64.b64encode(sig).decode()}]},
}
pathlib.Path("model.sig").write_text(json.dumps(bundle, indent=2) + "\n")
