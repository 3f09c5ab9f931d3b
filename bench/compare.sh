#!/usr/bin/env bash
# Side-by-side evaluation times of Värav's CEL engine and two JavaScript CEL implementations on the
# same gate rules and data (bench/cel_bench.cc, bench/js/cel_js_bench.mjs).
#
#   bench/compare.sh                      # builds build-release/bench/cel_bench if needed
#   BUILD_DIR=build-x bench/compare.sh    # another (Release) build directory
#   BENCH_SECONDS=0.5 bench/compare.sh    # measuring time per benchmark and repetition
#   COMPARE_CLOCK=real bench/compare.sh   # wall-clock instead of CPU time
#
# CPU time is the default because the figures are only comparable when both sides are measured
# the same way, and on a shared machine wall-clock time mostly measures the other processes.
#
# Prints one row per rule with the ratio of the faster JavaScript implementation to Värav, then
# whether the product's goals hold: every ratio >= 2 and the simple rules (no comprehension, no
# regular expression) at or under 200 ns per evaluation. Exits 0 whether or not the goals hold; a
# rule that fails to compile or to evaluate to true in any implementation is an error (exit 1).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-build-release}"
case "$build_dir" in /*) ;; *) build_dir="$root/$build_dir" ;; esac
seconds="${BENCH_SECONDS:-1}"
repetitions="${BENCH_REPETITIONS:-3}"
clock="${COMPARE_CLOCK:-cpu}"
if [[ "$clock" != cpu && "$clock" != real ]]; then
  echo "COMPARE_CLOCK must be cpu or real" >&2
  exit 2
fi

if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
fi
build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt")"
if [[ "$build_type" != "Release" ]]; then
  echo "warning: $build_dir is a '$build_type' build; measurements are meant for Release" >&2
fi
cmake --build "$build_dir" -j"$(nproc)" --target cel_bench >/dev/null

if [[ ! -d "$root/bench/js/node_modules/@bufbuild/cel" ||
      ! -d "$root/bench/js/node_modules/@marcbachmann/cel-js" ]]; then
  (cd "$root/bench/js" && npm ci --no-audit --no-fund >/dev/null)
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "running cel_bench (${repetitions} x ${seconds} s per benchmark)..." >&2
"$build_dir/bench/cel_bench" --benchmark_filter='^BM_Eval/' \
  --benchmark_min_time="$seconds" --benchmark_repetitions="$repetitions" \
  --benchmark_report_aggregates_only=true --benchmark_format=json >"$tmp/cpp.json"
echo "running the JavaScript implementations (${seconds} s per rule)..." >&2
node "$root/bench/js/cel_js_bench.mjs" --json --seconds="$seconds" >"$tmp/js.json"

python3 - "$tmp/cpp.json" "$tmp/js.json" "$build_type" "$clock" <<'PY'
import json
import sys

SIMPLE_RULES = ("has", "nested_compare", "conjunction_in")
BUDGET_NS = 200.0
UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
build_type, clock = sys.argv[3], sys.argv[4]
cpp_field = "cpu_time" if clock == "cpu" else "real_time"
js_field = "cpu_ns_per_eval" if clock == "cpu" else "ns_per_eval"

with open(sys.argv[1]) as f:
    cpp = json.load(f)
with open(sys.argv[2]) as f:
    js = json.load(f)

# Median of the repetitions for each BM_Eval/<rule>.
varav = {}
for b in cpp["benchmarks"]:
    if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
        continue
    name = b.get("run_name", b["name"])
    if not name.startswith("BM_Eval/"):
        continue
    varav[name.split("/", 1)[1]] = b[cpp_field] * UNIT_NS[b["time_unit"]]

impls = []
by_impl = {}
for r in js["results"]:
    if r["implementation"] not in by_impl:
        impls.append(r["implementation"])
        by_impl[r["implementation"]] = {}
    by_impl[r["implementation"]][r["rule"]] = r[js_field]
short = {"@marcbachmann/cel-js": "cel-js"}

header = ["expression", "Värav ns"] + [short.get(i, i) + " ns" for i in impls] + [
    "faster-JS/Värav"]
rows = []
ratios_ok = True
simple_ok = True
for rule, ns in varav.items():
    js_ns = [by_impl[i].get(rule) for i in impls]
    fastest = min(x for x in js_ns if x is not None)
    ratio = fastest / ns
    ratios_ok &= ratio >= 2.0
    if rule in SIMPLE_RULES:
        simple_ok &= ns <= BUDGET_NS
    rows.append([rule, f"{ns:.1f}"] + [f"{x:.1f}" if x is not None else "-" for x in js_ns] +
                [f"{ratio:.1f}x"])

widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
def line(cells):
    return "| " + " | ".join(
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"
print(line(header))
print("|" + "|".join(("-" * (w + 2)) for w in widths) + "|")
for r in rows:
    print(line(r))
ctx = cpp.get("context", {})
print(f"\nmachine: {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz; "
      f"node {js.get('node', '?')}; cel_bench build type: {build_type}; "
      f"clock: {clock} time per evaluation; load average: {ctx.get('load_avg', '?')}")
print(f"every ratio >= 2: {'yes' if ratios_ok else 'NO'}; "
      f"simple rules ({', '.join(SIMPLE_RULES)}) <= {BUDGET_NS:.0f} ns: "
      f"{'yes' if simple_ok else 'NO'}")
PY
