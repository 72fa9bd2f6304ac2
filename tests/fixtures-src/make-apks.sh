#!/usr/bin/env bash
# Builds small APK fixtures from source with Debian's Android tools:
#
#   tests/fixtures-src/make-apks.sh OUTDIR [PACKAGE] [VERSION_CODE] [VERSION_NAME] [MIN_SDK]
#
# OUTDIR receives
#   unsigned.apk   zipaligned, no signature
#   signed.apk     signed (v1 + v2 + v3 for MIN_SDK < 24) with keys/filed.p12
#   resigned.apk   the same unsigned.apk signed with keys/other.p12 instead
#   signed.certs / resigned.certs   `apksigner verify --print-certs` of each (the ground truth
#                  the tests compare the gateway with: an independent verifier's fingerprints)
#
# SIGN_FLAGS="--verity-enabled ..." adds apksigner flags to both signing runs.
# FILLER_BYTES=N in the environment adds a stored assets/filler.bin of N pseudo-random bytes
# (benches use it for 1 MB and 100 MB packages); with FILLER_TEXT=1 the N bytes are deflated
# pseudo-text instead (a few times smaller in the archive). V1_ONLY=1 signs with the JAR
# scheme (v1) alone, so that v1 decides the signer.
#
# The binary AndroidManifest.xml (package, versionCode, versionName, uses-sdk minSdkVersion)
# is written by the Python below (standard library only). The keys are throw-away test keys
# (store and key password "icpgate-test"); never use them for anything real.
# Needs: python3, zipalign, apksigner (Debian packages python3, zipalign, apksigner).
set -euo pipefail
out=${1:?usage: make-apks.sh OUTDIR [PACKAGE] [VERSION_CODE] [VERSION_NAME] [MIN_SDK]}
pkg=${2:-cn.icpgate.demo}
code=${3:-7}
name=${4:-1.2.0}
min_sdk=${5:-21}
here=$(cd "$(dirname "$0")" && pwd)

for tool in python3 zipalign apksigner; do
  command -v "$tool" >/dev/null || { echo "make-apks.sh: $tool is not installed (apt-get install $tool)" >&2; exit 69; }
done
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work/raw.apk" "$pkg" "$code" "$name" "$min_sdk" "${FILLER_BYTES:-0}" "${FILLER_TEXT:-0}" <<'PY'
import random, struct, sys, zipfile

path, package, version_code, version_name, min_sdk, filler, text = sys.argv[1:8]
ANDROID = "http://schemas.android.com/apk/res/android"
# Attribute names first: the resource map gives their android: resource ids.
strings = ["versionCode", "versionName", "minSdkVersion", "android", ANDROID,
           "package", "manifest", "uses-sdk", package, version_name]
res_ids = [0x0101021B, 0x0101021C, 0x0101020C]
idx = {s: i for i, s in enumerate(strings)}
NONE = 0xFFFFFFFF

def chunk(kind, header, body):
    return struct.pack("<HHI", kind, 8 + len(header), 8 + len(header) + len(body)) + header + body

def pool():
    data, offsets = b"", []
    for s in strings:
        offsets.append(len(data))
        u = s.encode("utf-16-le")
        data += struct.pack("<H", len(u) // 2) + u + b"\0\0"
    data += b"\0" * (-len(data) % 4)
    header = struct.pack("<IIIII", len(strings), 0, 0, 28 + 4 * len(strings), 0)
    return chunk(0x0001, header, b"".join(struct.pack("<I", o) for o in offsets) + data)

def attr(ns, name, raw, kind, data):
    return struct.pack("<IIIHBBI", ns, idx[name], raw, 8, 0, kind, data)

def start(name, attrs, line):
    ext = struct.pack("<IIHHHHHH", NONE, idx[name], 20, 20, len(attrs), 0, 0, 0)
    return chunk(0x0102, struct.pack("<II", line, NONE), ext + b"".join(attrs))

def end(name, line):
    return chunk(0x0103, struct.pack("<II", line, NONE), struct.pack("<II", NONE, idx[name]))

ns = idx[ANDROID]
body = pool()
body += chunk(0x0180, b"", b"".join(struct.pack("<I", r) for r in res_ids))
body += chunk(0x0100, struct.pack("<II", 1, NONE), struct.pack("<II", idx["android"], ns))
body += start("manifest", [
    attr(ns, "versionCode", NONE, 0x10, int(version_code)),
    attr(ns, "versionName", idx[version_name], 0x03, idx[version_name]),
    attr(NONE, "package", idx[package], 0x03, idx[package]),
], 1)
body += start("uses-sdk", [attr(ns, "minSdkVersion", NONE, 0x10, int(min_sdk))], 2)
body += end("uses-sdk", 2) + end("manifest", 1)
body += chunk(0x0101, struct.pack("<II", 1, NONE), struct.pack("<II", idx["android"], ns))
axml = struct.pack("<HHI", 0x0003, 8, 8 + len(body)) + body

fixed = (2024, 1, 1, 0, 0, 0)  # fixed timestamps: the same inputs give the same bytes
with zipfile.ZipFile(path, "w") as z:
    for name, data, method in [
        ("AndroidManifest.xml", axml, zipfile.ZIP_DEFLATED),
        ("classes.dex", b"dex\n035\0" + bytes(104), zipfile.ZIP_DEFLATED),
        ("res/raw/readme.txt", b"icpgate test fixture\n" * 8, zipfile.ZIP_STORED),
    ]:
        info = zipfile.ZipInfo(name, fixed)
        info.compress_type = method
        z.writestr(info, data)
    if int(filler) > 0:
        info = zipfile.ZipInfo("assets/filler.bin", fixed)
        rng = random.Random(7)
        if text == "1":
            # Words from a small vocabulary: deflate finds matches but no long repeats.
            info.compress_type = zipfile.ZIP_DEFLATED
            words = [rng.randbytes(rng.randint(2, 9)).hex() for _ in range(4096)]
            page = " ".join(rng.choice(words) for _ in range(1 << 18)).encode()
        with z.open(info, "w", force_zip64=int(filler) > 0x7FFFFFFF) as f:
            left = int(filler)
            while left:
                n = min(left, 1 << 20)
                if text == "1":
                    at = rng.randrange(len(page) - n) if len(page) > n else 0
                    f.write(page[at:at + n])
                else:
                    f.write(rng.randbytes(n))
                left -= n
PY

zipalign -f -p 4 "$work/raw.apk" "$out/unsigned.apk"
for which in signed:filed resigned:other; do
  file=${which%%:*}; key=${which##*:}
  schemes=()
  [ "${V1_ONLY:-0}" = 1 ] && schemes=(--v2-signing-enabled false --v3-signing-enabled false)
  # SIGN_FLAGS: extra apksigner flags (e.g. --verity-enabled), unquoted on purpose.
  # shellcheck disable=SC2086
  apksigner sign ${SIGN_FLAGS:-} --ks "$here/keys/$key.p12" --ks-type PKCS12 --ks-pass pass:icpgate-test \
    "${schemes[@]}" --out "$out/$file.apk" "$out/unsigned.apk"
  rm -f "$out/$file.apk.idsig"
  apksigner verify --print-certs "$out/$file.apk" > "$out/$file.certs"
done
