#!/usr/bin/env python3
"""Checks that every option struct of nnedge.h follows the growth rules of
"Option structs" in the header (issue 6 item 8):

  - `typedef struct nne_<x>_options { uint32_t struct_size; ... }`: the size
    field comes first;
  - nne_<x>_options_default() is a static inline function of the header (so it
    records the caller's sizeof), not a library function;
  - src/core/abi.c static_asserts the struct's size against its last field
    (no trailing padding an old caller could leave uninitialized).

Usage: check_options.py [include/nnedge.h [src/core/abi.c]]
Exit 0 when every option struct complies; else one line per problem.
"""
import re
import sys


def main():
    header = sys.argv[1] if len(sys.argv) > 1 else "include/nnedge.h"
    abi = sys.argv[2] if len(sys.argv) > 2 else "src/core/abi.c"
    h = open(header).read()
    a = open(abi).read()
    text = re.sub(r"/\*.*?\*/", " ", h, flags=re.S)
    problems = []
    structs = re.findall(r"typedef\s+struct\s+(nne_\w*options)\s*\{(.*?)\}\s*(\w+)\s*;", text, flags=re.S)
    for tag, body, name in structs:
        fields = [f.strip() for f in body.split(";") if f.strip()]
        if not fields or not re.fullmatch(r"uint32_t\s+struct_size", fields[0]):
            problems.append("options: %s does not start with `uint32_t struct_size;`" % name)
        last = re.findall(r"(\w+)\s*(?:\[[^\]]*\])?$", fields[-1]) if fields else []
        if not re.search(r"static\s+inline\s+%s\s+%s_default\s*\(\s*void\s*\)" % (name, name), text):
            problems.append("options: %s_default() is not a static inline function of %s" % (name, header))
        if re.search(r"NNE_API[^;{]*\b%s_default\s*\(" % name, text):
            problems.append("options: %s_default() is exported; it must be inline (a by-value struct across "
                            "the library boundary breaks when the struct grows)" % name)
        want = r"static_assert\(\s*sizeof\(%s\)\s*==\s*NNE_END_OF\(%s,\s*%s\)" % (name, name, last[0] if last else "")
        if not last or not re.search(want, a):
            problems.append("options: %s: no `static_assert(sizeof(%s) == NNE_END_OF(%s, %s), ...)` in %s "
                            "(name its last field there)" % (name, name, name, last[0] if last else "?", abi))
    for p in problems:
        print(p)
    print("options: %d option structs in %s (%s), %d problems"
          % (len(structs), header, ", ".join(s[2] for s in structs), len(problems)))
    return 1 if problems or not structs else 0


if __name__ == "__main__":
    sys.exit(main())
