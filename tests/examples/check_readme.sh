#!/usr/bin/env bash
# README.md's C++, C and Python examples are the files the tests build and run:
# each fenced block must equal its tests/examples/readme_example.* file from
# the first #include / import line on.  usage: check_readme.sh SOURCE_DIR
set -euo pipefail
src=$1
status=0
check() {  # FENCE FILE FIRST_LINE_PATTERN
  if ! diff <(sed -n "/^\`\`\`$1\$/,/^\`\`\`\$/p" "$src/README.md" | sed '1d;$d') \
            <(sed -n "/$3/,\$p" "$src/tests/examples/$2"); then
    echo "README.md's \`\`\`$1 block differs from tests/examples/$2" >&2
    status=1
  fi
}
check cpp readme_example.cpp '^#include'
check c readme_example.c '^#include'
check python readme_example.py '^import'
exit $status
