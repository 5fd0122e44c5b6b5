#!/usr/bin/env bash
# CPU seconds per test: runs the suite (or the nextest filter given, e.g. -E 'test(/^camera::/)')
# with every test process under /usr/bin/time, through cargo's target runner, and lists the
# tests by user + system CPU, their children included (the ovstream, gst-launch, Python and
# browser processes a test starts and waits for). On 2 cores the suite's wall time follows its
# total CPU, so this is where a shorter CI run comes from.
#   scripts/test_cpu.sh [nextest args…]      → target/nextest/cpu.txt, top 40 printed
set -euo pipefail
cd "$(dirname "$0")/.."
log="$PWD/target/nextest/cpu.log"
mkdir -p target/nextest
rm -f "$log"
runner="$(mktemp)"
trap 'rm -f "$runner"' EXIT
cat > "$runner" <<RUNNER
#!/bin/sh
name=""
for a in "\$@"; do case "\$a" in --*) ;; *) name="\$a";; esac; done
exec /usr/bin/time -a -o "$log" -f "%U %S %e \$name" "\$@"
RUNNER
chmod +x "$runner"
CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$runner" \
  cargo nextest run --release --locked "$@" || true
# Lines "user system wall name"; the listing runs (`--list`) are left out.
awk '$4 != "" && $4 != "terse" && $1 ~ /^[0-9.]+$/ { printf "%7.1f %7.1f  %s\n", $1 + $2, $3, $4 }' "$log" \
  | sort -rn > target/nextest/cpu.txt
printf '%7s %7s  %s\n' "CPU s" "wall s" "test"
head -40 target/nextest/cpu.txt
awk '{ cpu += $1 } END { printf "%d tests, %.0f CPU s in all\n", NR, cpu }' target/nextest/cpu.txt
