#!/usr/bin/env python3
"""Extracts fuzz seeds for the package-reader targets from the shared fixtures.

    fuzz/seeds.py FIXTURES OUT

Reads every APK, IPA and HAP under FIXTURES (../shared/fixtures: apps/ and apksig/) and
writes, per target, the pieces that target reads into OUT/TARGET/: whole small packages
(zip, zipentries), AndroidManifest.xml (axml), Info.plist in XML and binary form,
module.json, pack.info and META-INF manifests (manifest), minimal Mach-O files that keep just
each slice's code signature (macho), PKCS#7 blobs (pkcs7), APK Signing Blocks (apksigblock)
and HAP signing blocks (hapsigblock). Seeds are deduplicated, at most MAX_SEED bytes each and
at most MAX_SEEDS per target (spread over the sizes): AFL++ works best from few small seeds.
Nothing is written into the repository; run.sh points OUT at a scratch directory.
"""

import hashlib
import os
import plistlib
import struct
import sys
import zipfile

MAX_SEED = 64 << 10
MAX_SEEDS = 48
SIG_SUFFIXES = (".RSA", ".DSA", ".EC", ".P7B")


def packages(root):
    for d, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            if f.endswith((".apk", ".ipa", ".hap")):
                yield os.path.join(d, f)


def read_zip(path):
    """name -> bytes of every readable entry; {} when Python's reader refuses the file."""
    out = {}
    try:
        with zipfile.ZipFile(path) as z:
            for i in z.infolist():
                try:
                    out[i.filename] = z.read(i)
                except Exception:
                    pass
    except Exception:
        pass
    return out


def cd_offset(data):
    """Central directory offset from the last end record, or None."""
    i = data.rfind(b"PK\x05\x06")
    if i < 0 or i + 22 > len(data):
        return None
    return struct.unpack_from("<I", data, i + 16)[0]


def apk_sig_block(data):
    cd = cd_offset(data)
    if cd is None or cd < 32 or cd > len(data) or data[cd - 16:cd] != b"APK Sig Block 42":
        return None
    size = struct.unpack_from("<Q", data, cd - 24)[0]
    start = cd - size - 8
    return data[start:cd] if 0 <= start < cd else None


def hap_sig_block(data):
    cd = cd_offset(data)
    if cd is None or cd < 32 or data[cd - 20:cd - 4] not in (b"HAP Sig Block 42", b"<hap sign block>"):
        return None
    size = struct.unpack_from("<Q", data, cd - 28)[0]
    return data[cd - size:cd] if 0 < size <= cd else None


def hap_signature(block):
    """The PKCS#7 signature sub-block value of a HAP signing block."""
    count = struct.unpack_from("<I", block, len(block) - 32)[0]
    for k in range(min(count, 64)):
        ty, ln, off = struct.unpack_from("<III", block, 12 * k)
        if ty == 0x20000000:
            return block[off:off + ln]
    return None


def macho_sigs(exe):
    """(code signature blob) per Mach-O slice of `exe`."""
    magic = struct.unpack_from(">I", exe, 0)[0] if len(exe) >= 8 else 0
    slices = [(0, len(exe))]
    if magic in (0xCAFEBABE, 0xCAFEBABF):
        n = struct.unpack_from(">I", exe, 4)[0]
        rec, slices = (32 if magic == 0xCAFEBABF else 20), []
        for k in range(min(n, 16)):
            b = 8 + k * rec
            if magic == 0xCAFEBABF:
                off, size = struct.unpack_from(">QQ", exe, b + 8)
            else:
                off, size = struct.unpack_from(">II", exe, b + 8)
            slices.append((off, size))
    out = []
    for off, size in slices:
        s = exe[off:off + size]
        if len(s) < 32 or struct.unpack_from("<I", s, 0)[0] not in (0xFEEDFACE, 0xFEEDFACF):
            continue
        hsize = 28 if struct.unpack_from("<I", s, 0)[0] == 0xFEEDFACE else 32
        ncmds = struct.unpack_from("<I", s, 16)[0]
        p = hsize
        for _ in range(min(ncmds, 4096)):
            if p + 16 > len(s):
                break
            cmd, csize = struct.unpack_from("<II", s, p)
            if cmd == 0x1D:
                dataoff, datasize = struct.unpack_from("<II", s, p + 8)
                out.append(s[dataoff:dataoff + datasize])
                break
            if csize < 8:
                break
            p += csize
    return out


def thin_macho(sig):
    """A 64-bit thin Mach-O with one LC_CODE_SIGNATURE command pointing at `sig`."""
    head = struct.pack("<8I", 0xFEEDFACF, 0x0100000C, 0, 2, 1, 16, 0, 0)
    return head + struct.pack("<4I", 0x1D, 16, 48, len(sig)) + sig


def fat_macho(sigs):
    """A fat Mach-O of thin slices, one per signature."""
    thins = [thin_macho(s) for s in sigs]
    out = bytearray(struct.pack(">II", 0xCAFEBABE, len(thins)))
    off = 8 + 20 * len(thins)
    for t in thins:
        out += struct.pack(">5I", 0x0100000C, 0, off, len(t), 0)
        off += len(t)
    return bytes(out) + b"".join(thins)


def superblob_slot(sb, slot):
    if len(sb) < 12 or struct.unpack_from(">I", sb, 0)[0] != 0xFADE0CC0:
        return None
    count = struct.unpack_from(">I", sb, 8)[0]
    for k in range(min(count, 1024)):
        if 20 + 8 * k > len(sb):
            break
        ty, off = struct.unpack_from(">II", sb, 12 + 8 * k)
        if ty == slot and off + 8 <= len(sb):
            return sb[off + 8:off + struct.unpack_from(">I", sb, off + 4)[0]]
    return None


def collect(fixtures):
    seeds = {t: [] for t in ("zip", "zipentries", "axml", "manifest", "macho", "pkcs7",
                             "apksigblock", "hapsigblock")}
    for d, _, files in sorted(os.walk(fixtures)):
        for f in sorted(files):
            if os.path.basename(d) == "axml" and f.endswith(".xml"):
                with open(os.path.join(d, f), "rb") as fh:
                    seeds["axml"].append(fh.read())
    for path in packages(fixtures):
        with open(path, "rb") as f:
            data = f.read()
        seeds["zip"].append(data)
        seeds["zipentries"].append(data)
        entries = read_zip(path)
        for name, body in entries.items():
            base = name.rsplit("/", 1)[-1]
            if name == "AndroidManifest.xml":
                seeds["axml"].append(body)
            elif base in ("Info.plist", "module.json", "pack.info", "MANIFEST.MF") or (
                    name.startswith("META-INF/") and name.endswith(".SF")):
                seeds["manifest"].append(body)
                if base == "Info.plist":
                    try:
                        seeds["manifest"].append(
                            plistlib.dumps(plistlib.loads(body), fmt=plistlib.FMT_BINARY))
                    except Exception:
                        pass
            elif name.startswith("META-INF/") and name.upper().endswith(SIG_SUFFIXES):
                seeds["pkcs7"].append(body)
            elif ".app/" in name and body[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe",
                                                  b"\xca\xfe\xba\xbe"):
                sigs = macho_sigs(body)
                seeds["macho"] += [thin_macho(s) for s in sigs]
                if len(sigs) > 1:
                    seeds["macho"].append(fat_macho(sigs))
                seeds["pkcs7"] += [c for c in (superblob_slot(s, 0x10000) for s in sigs) if c]
        block = apk_sig_block(data)
        if block:
            seeds["apksigblock"].append(block)
        block = hap_sig_block(data)
        if block:
            seeds["hapsigblock"].append(block)
            sig = hap_signature(block)
            if sig:
                seeds["pkcs7"].append(sig)
    return seeds


def spread(items):
    """At most MAX_SEEDS of `items` (sorted by size), evenly spaced from smallest to largest."""
    if len(items) <= MAX_SEEDS:
        return items
    step = (len(items) - 1) / (MAX_SEEDS - 1)
    return [items[round(k * step)] for k in range(MAX_SEEDS)]


def main():
    fixtures, out = sys.argv[1], sys.argv[2]
    for target, items in collect(fixtures).items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        unique = {hashlib.sha256(b).hexdigest(): b for b in items if 0 < len(b) <= MAX_SEED}
        chosen = spread(sorted(unique.items(), key=lambda kv: (len(kv[1]), kv[0])))
        for h, b in chosen:
            with open(os.path.join(d, h[:16]), "wb") as f:
                f.write(b)
        print(f"seeds {target}: {len(chosen)} of {len(unique)}")


if __name__ == "__main__":
    main()
