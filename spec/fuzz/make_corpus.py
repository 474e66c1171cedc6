#!/usr/bin/env python3
"""make_corpus.py — writes the fuzz targets' seed corpora (tiny valid inputs,
one file each) into spec/fuzz/corpus/<target>/. Standard library only (no numpy:
NPY files are written by hand). Run from anywhere; rerunning rewrites them.
Layouts are those documented in each spec/fuzz/fuzz_<target>.c."""
import gzip, json, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))

def out(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def gz(b):
    return gzip.compress(b, compresslevel=9, mtime=0)

def idx(dims, data, labels=False):
    magic = 0x0801 if labels else (0x0800 | len(dims))
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)

def two(a, b):
    return struct.pack("<H", len(a)) + a + b

def npy(descr, shape, payload, version=1, fortran=False):
    shp = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shp)
    pre = 10 if version == 1 else 12
    pad = (64 - (pre + len(h) + 1) % 64) % 64
    h = (h + " " * pad + "\n").encode()
    ln = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + ln + h + payload

# IDX: u16 split, images, labels
img = idx([3, 2, 2], [0, 255, 7, 8, 1, 2, 3, 4, 9, 9, 9, 9])
lab = idx([3], [0, 1, 2], labels=True)
out("idx", "pair_3x2x2", two(img, lab))
out("idx", "pair_flat", two(idx([2, 3], [1, 2, 3, 4, 5, 6]), idx([2], [1, 0], True)))
out("idx", "pair_4d", two(idx([1, 2, 1, 2], [1, 2, 3, 4]), idx([1], [5], True)))

# IDX gzip: mode byte, then as idx (bit 0/1: the harness gzips images/labels)
out("idx_gz", "real_gz", b"\x00" + two(gz(img), gz(lab)))
out("idx_gz", "harness_gz", b"\x03" + two(img, lab))
out("idx_gz", "mixed", b"\x02" + two(gz(img), lab))
out("idx_gz", "multi_member", b"\x00" + two(gz(img[:9]) + gz(img[9:]), gz(lab)))

# NPY: u16 split, features, labels
f32 = struct.pack("<6f", 0.5, -1, 2, 3.25, 1e-3, 7)
out("npy", "f4_i8", two(npy("<f4", [3, 2], f32), npy("<i8", [3], struct.pack("<3q", 0, 1, 2))))
out("npy", "u1_u1", two(npy("|u1", [2, 2, 2], bytes(range(8))), npy("|u1", [2], b"\x01\x00")))
out("npy", "f8_i4_v2", two(npy("<f8", [2, 2], struct.pack("<4d", 1, 2, 3, 4), version=2),
                           npy("<i4", [2, 1], struct.pack("<2i", 3, 0))))
out("npy", "be_v3", two(npy(">f4", [2], struct.pack(">2f", 1, 2), version=3),
                        npy(">i8", [2], struct.pack(">2q", 1, 1))))
out("npy", "targets", two(npy("<i4", [3, 1], struct.pack("<3i", 1, 2, 3)),
                          npy("<f4", [3, 2], f32)))

# CSV: options byte, then the text (see fuzz_csv.c)
out("csv", "header_label", bytes([0x30]) + b"a,b,label\n1,2.5,0\n3,-4e2,1\n")
out("csv", "no_header", bytes([0x01]) + b"1,2,0\r\n3,4,1\r\n")
out("csv", "semicolon_quoted", bytes([0x06]) + b'"x";"y"\n"1.5";2\n3;"4"\n')
out("csv", "tab_first", bytes([0x18]) + b"1\t2\t3\n4\t5\t6\n\n")
out("csv", "gzip", bytes([0x00]) + gz(b"f1,f2,label\n0,1,2\n"))

# safetensors: u64 header length, JSON header, data
hdr = json.dumps({"__metadata__": {"format": "lrengine-snapshot"},
                  "0.weight": {"dtype": "F32", "shape": [2, 1], "data_offsets": [0, 8]},
                  "0.bias": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}},
                 separators=(",", ":")).encode()
hdr += b" " * ((8 - len(hdr) % 8) % 8)
out("safetensors", "two_tensors", struct.pack("<Q", len(hdr)) + hdr + struct.pack("<4f", 1, 2, 3, 4))
hdr = b'{"x":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}'
out("safetensors", "u8", struct.pack("<Q", len(hdr)) + hdr + b"abc")
