#!/usr/bin/env python3
"""Generate the v1 golden fixtures of core/crypto from docs/format/crypto.md.

This is a second, independent implementation of the formats (Python stdlib +
the `cryptography` package), written from the format document rather than
from the Go code. golden_test.go checks that the Go package reads these files
and derives the same values. Re-running it produces new random-looking but
deterministic output (fixed nonces below); never regenerate a released
fixture, add a new one for a new version instead.

    python3 gen_v1.py   # writes v1.json and block-v1.bin next to this file
"""

import hashlib
import hmac
import json
import os
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives import serialization

HERE = os.path.dirname(os.path.abspath(__file__))

MNEMONIC = " ".join(["abandon"] * 23 + ["art"])  # BIP39 entropy 00..00 (256 bit)


def hkdf_extract(salt, ikm):
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk, info, length):
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]


def main():
    seed = hashlib.pbkdf2_hmac("sha512", MNEMONIC.encode(), b"mnemonic", 2048, 64)
    prk = hkdf_extract(b"shardrive v1 root", seed)
    labels = ["file-key-wrap", "metadata", "names", "account", "key-check"]
    keys = {l: hkdf_expand(prk, b"shardrive v1 " + l.encode(), 32) for l in labels}

    body = b"SHDRKEYS" + bytes([1]) + b"".join(keys[l] for l in labels)
    keys_file = body + hashlib.sha256(body).digest()

    farmer_id = bytes(range(1, 33))
    acct_seed = hkdf_expand(hkdf_extract(b"\x00" * 32, keys["account"]),
                            b"shardrive v1 account-farmer " + farmer_id, 32)
    acct_pub = Ed25519PrivateKey.from_private_bytes(acct_seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    file_key = bytes(range(32))
    file_id = bytes(range(0xA0, 0xB0))
    wrap_nonce = bytes(range(0x50, 0x5C))
    wrap_ad = b"shardrive/wrapped-key" + bytes([1]) + file_id
    wrapped = bytes([1]) + wrap_nonce + AESGCM(keys["file-key-wrap"]).encrypt(wrap_nonce, file_key, wrap_ad)

    seg_size = 64 << 10
    block, version = 3, 7
    plain_len = seg_size + 4464  # two segments, the second one padded
    plain = bytes((i * 7) % 251 for i in range(plain_len))
    count = (plain_len + seg_size - 1) // seg_size
    padded = plain + b"\x00" * (count * seg_size - plain_len)
    sealed = b""
    for i in range(count):
        nonce = bytes([0xC0 + i]) * 12
        ad = (b"shardrive/block" + bytes([1]) + file_id
              + struct.pack(">QQII", block, version, i, count))
        sealed += nonce + AESGCM(file_key).encrypt(nonce, padded[i * seg_size:(i + 1) * seg_size], ad)
    with open(os.path.join(HERE, "block-v1.bin"), "wb") as f:
        f.write(sealed)

    out = {
        "mnemonic": MNEMONIC,
        "seed": seed.hex(),
        "keys": {l: keys[l].hex() for l in labels},
        "keys_file": keys_file.hex(),
        "farmer_id": farmer_id.hex(),
        "account_public": acct_pub.hex(),
        "file_key": file_key.hex(),
        "file_id": file_id.hex(),
        "wrapped_key": wrapped.hex(),
        "block": {
            "file": "block-v1.bin",
            "block": block,
            "version": version,
            "plain_len": plain_len,
            "plain": "byte i = (i*7) mod 251",
            "sha256_sealed": hashlib.sha256(sealed).hexdigest(),
        },
    }
    with open(os.path.join(HERE, "v1.json"), "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
