#!/usr/bin/env python3
"""Checks what libnnedge.so (or libnnedge_io.so) exports (issue 6 item 8: hidden
visibility).

Usage: check_exports.py LIB.so [HEADER...]   (default include/nnedge.h)

1. `nm -D --defined-only LIB` lists only nne_ symbols, apart from the few a
   GNU toolchain may add on its own (TOOLCHAIN below).
2. Every function the headers declare is exported, and its declaration carries
   NNE_API (a function added without it would be hidden in the .so and
   missing for programs that link it).
Exit 0 when both hold; otherwise one line per problem and exit 1.
"""
import re
import subprocess
import sys

# Symbols the toolchain may put in the dynamic table of any shared library:
#   _init, _fini          DT_INIT/DT_FINI entry points from crti.o/crtn.o
#   _edata, _end, __bss_start
#                         section-boundary symbols that GNU ld before 2.35 or
#                         so exported from every shared object
# None of them is code of ours; current binutils add none.
TOOLCHAIN = {"_init", "_fini", "_edata", "_end", "__bss_start"}


def header_functions(text):
    """(name, has NNE_API) of every function declaration in the header, except
    static inline ones (compiled into the caller, never exported)."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    # drop preprocessor lines (with their continuations)
    text = re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)
    text = text.replace('extern "C" {', " ")
    out = []
    depth = 0
    stmt = ""
    for ch in text:
        # skip bodies of static inline functions and struct/enum bodies
        if ch == "{":
            depth += 1
            stmt += " { "
            continue
        if ch == "}":
            depth -= 1
            stmt += " } "
            if depth == 0 and re.match(r"\s*static\s+inline\b", stmt):
                stmt = ""
            continue
        if depth:
            continue
        if ch == ";":
            s = " ".join(stmt.split())
            stmt = ""
            if s.startswith("typedef") or s.startswith("static"):
                continue
            m = re.search(r"\b(nne_\w+)\s*\(", s)
            if m:
                out.append((m.group(1), s.startswith("NNE_API ")))
            continue
        stmt += ch
    return out


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    lib = sys.argv[1]
    headers = sys.argv[2:] or ["include/nnedge.h"]
    header = " ".join(headers)
    nm = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True)
    if nm.returncode != 0:
        print("exports: nm failed on %s: %s" % (lib, nm.stderr.strip()))
        return 1
    exported = set()
    for line in nm.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            exported.add(parts[-1].split("@")[0])
    problems = []
    for name in sorted(exported):
        if not name.startswith("nne_") and name not in TOOLCHAIN:
            problems.append("exports: %s exports %s, which is not an nne_ symbol" % (lib, name))
    decls = []
    for h in headers:
        found = header_functions(open(h).read())
        if not found:
            problems.append("exports: found no function declarations in %s" % h)
        for name, has_api in found:
            if not has_api:
                problems.append("exports: %s declares %s without NNE_API" % (h, name))
        decls += found
    for name, has_api in decls:
        if name not in exported:
            problems.append("exports: %s declares %s but %s does not export it" % (header, name, lib))
    internal = [n for n in exported if n.startswith("nne_") and n not in {d[0] for d in decls}]
    for name in sorted(internal):
        problems.append("exports: %s exports %s, which %s does not declare" % (lib, name, header))
    for p in problems:
        print(p)
    nne = sum(1 for n in exported if n.startswith("nne_"))
    print("exports: %s: %d symbols (%d nne_ functions declared in %s), %d problems"
          % (lib, len(exported), nne, header, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
