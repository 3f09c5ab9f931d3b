// Evaluation-time benchmark of two JavaScript CEL implementations on Värav's gate rules.
//
// Uses the same five expressions and the same data as bench/cel_bench.cc so that the numbers can
// be put side by side (bench/compare.sh does that). Each expression is compiled once with the
// library's reusable-program API; only evaluation is timed. Every result is checked to be `true`
// before timing, because a benchmark of an expression that errors measures nothing.
//
//   node cel_js_bench.mjs                 # a table on stdout
//   node cel_js_bench.mjs --json          # JSON on stdout (what compare.sh reads)
//   node cel_js_bench.mjs --seconds=0.3   # measuring time per expression and implementation
//
// Timing: a warm-up (so the JIT has optimised the hot path), then batches sized to take about
// 10 ms each, run for the requested time. Reported per evaluation: the median batch's wall-clock
// time (robust against GC pauses), the fastest batch's, and the median batch's process CPU time.
// CPU time includes the engine's own helper threads (GC, compiler) and is what to compare with
// Google Benchmark's cpu_time when other processes compete for the cores.

import {
  CelScalar,
  celEnv,
  celList,
  celMap,
  isCelError,
  mapType,
  parse as bufParse,
  plan,
} from '@bufbuild/cel';
import {Environment} from '@marcbachmann/cel-js';

// The gate rules, by name. Keep in sync with kRules in bench/cel_bench.cc.
const RULES = [
  ['has', 'has(outputs.vision)'],
  ['nested_compare', 'outputs.user_research.fields.participant_count > 5'],
  ['all_20', 'outputs.goals_metrics.fields.kpis.all(k, has(k.baseline) && k.target > k.baseline)'],
  ['matches',
   "outputs.management_plan.fields.decision_ref.matches('^[A-Z]{2,5}-[0-9]{4}/[0-9]+$')"],
  ['conjunction_in',
   "outputs.vision.status == 'accepted' && outputs.management_plan.fields.budget > 10000.0 && " +
       "service.stage in ['envision', 'plan'] && size(outputs.team.fields.roles) >= 3"],
];

// The submitted outputs of one service: ten output types, each {status, fields}. CEL ints are
// BigInt in both libraries; doubles are plain numbers. Keep in sync with MakeOutputs() in
// bench/cel_bench.cc.
function makeOutputs() {
  const kpis = [];
  for (let i = 0; i < 20; i++) {
    kpis.push({
      name: `kpi-${i}`,
      baseline: BigInt(10 * i),
      target: BigInt(10 * i + 5),
      unit: 'percent',
      due: '2026-06-30',
    });
  }
  const note = (text) => ({status: 'draft', fields: {note: text}});
  return {
    vision: {status: 'accepted', fields: {statement: 'Residents file taxes in five minutes'}},
    user_research: {status: 'accepted', fields: {participant_count: 12n, method: 'interviews'}},
    goals_metrics: {status: 'submitted', fields: {kpis}},
    management_plan:
        {status: 'accepted', fields: {decision_ref: 'RIA-2024/17', budget: 250000.0}},
    team: {
      status: 'accepted',
      fields: {roles: ['product_owner', 'service_designer', 'developer', 'analyst']},
    },
    service_design: note('journey maps attached'),
    accessibility: note('WCAG 2.1 AA audit scheduled'),
    security: note('threat model in review'),
    architecture: note('reuses X-Road'),
    data_protection: note('DPIA pending'),
  };
}

function makeService() {
  return {name: 'tax-filing', stage: 'plan', owner: 'EMTA'};
}

// @bufbuild/cel accepts plain objects but converts them on every access; its own CelMap/CelList
// values, built once (as the C++ activation is), are two to three times faster to evaluate.
function toBufValue(v) {
  if (Array.isArray(v)) return celList(v.map(toBufValue));
  if (v !== null && typeof v === 'object') {
    return celMap(new Map(Object.entries(v).map(([k, x]) => [k, toBufValue(x)])));
  }
  return v;
}

// Each implementation: a name, how it wants its bindings, and compile(expr) -> (bindings) ->
// result. isTrue() makes sure an error value is never mistaken for `true`.
const IMPLEMENTATIONS = [
  {
    name: '@bufbuild/cel',
    bindings: (b) => ({outputs: toBufValue(b.outputs), service: toBufValue(b.service)}),
    setup() {
      const dyn = mapType(CelScalar.STRING, CelScalar.DYN);
      const env = celEnv({variables: {outputs: dyn, service: dyn}});
      return (expr) => plan(env, bufParse(expr));
    },
    isTrue: (v) => !isCelError(v) && v === true,
  },
  {
    name: '@marcbachmann/cel-js',
    // Plain objects are this library's native representation.
    bindings: (b) => b,
    setup() {
      const env = new Environment()
                      .registerVariable('outputs', 'map<string, dyn>')
                      .registerVariable('service', 'map<string, dyn>');
      return (expr) => env.parse(expr);
    },
    isTrue: (v) => v === true,
  },
];

function parseArgs(argv) {
  const opts = {json: false, seconds: 1.0};
  for (const a of argv) {
    if (a === '--json') {
      opts.json = true;
    } else if (a.startsWith('--seconds=')) {
      opts.seconds = Number(a.slice('--seconds='.length));
    } else {
      throw new Error(`unknown argument ${a}`);
    }
  }
  if (!(opts.seconds > 0)) throw new Error('--seconds must be positive');
  return opts;
}

// Runs `fn(bindings)` `n` times and returns the elapsed wall-clock and process CPU nanoseconds.
// The count of true results is returned too so the JIT cannot drop the calls.
function runBatch(fn, bindings, n) {
  let trues = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    if (fn(bindings) === true) trues++;
  }
  const ns = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpu0);
  return {ns, cpuNs: (cpu.user + cpu.system) * 1000, trues};
}

function measure(fn, bindings, seconds) {
  // Warm-up for a fifth of the budget (at least 100 ms) and size batches to ~10 ms.
  let batch = 1;
  const warmupEnd = process.hrtime.bigint() + BigInt(Math.max(0.1, seconds / 5) * 1e9);
  while (process.hrtime.bigint() < warmupEnd) {
    const {ns} = runBatch(fn, bindings, batch);
    if (ns < 10e6) batch = Math.min(batch * 2, 1 << 24);
  }
  const perBatch = [];
  const cpuPerBatch = [];
  let iterations = 0;
  let trues = 0;
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < end || perBatch.length < 5) {
    const r = runBatch(fn, bindings, batch);
    perBatch.push(r.ns / batch);
    cpuPerBatch.push(r.cpuNs / batch);
    iterations += batch;
    trues += r.trues;
  }
  if (trues !== iterations) throw new Error(`only ${trues} of ${iterations} evaluations were true`);
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return {
    ns_per_eval: median(perBatch),
    min_ns_per_eval: perBatch[0],
    cpu_ns_per_eval: median(cpuPerBatch),
    iterations,
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const plain = {outputs: makeOutputs(), service: makeService()};
  const results = [];
  for (const impl of IMPLEMENTATIONS) {
    const compile = impl.setup();
    const bindings = impl.bindings(plain);
    // Compile and verify everything first: a failing rule aborts before any timing.
    const programs = RULES.map(([name, expr]) => {
      const fn = compile(expr);
      const v = fn(bindings);
      if (!impl.isTrue(v)) {
        throw new Error(`${impl.name}: rule ${name} evaluated to ${String(v)}, want true`);
      }
      return [name, fn];
    });
    for (const [name, fn] of programs) {
      results.push({implementation: impl.name, rule: name, ...measure(fn, bindings, opts.seconds)});
    }
  }
  if (opts.json) {
    process.stdout.write(JSON.stringify({node: process.version, results}, null, 2) + '\n');
    return;
  }
  console.log(`node ${process.version}`);
  console.log('implementation        rule              wall ns/eval     min  cpu ns/eval  iterations');
  for (const r of results) {
    console.log(`${r.implementation.padEnd(22)}${r.rule.padEnd(18)}` +
                `${r.ns_per_eval.toFixed(1).padStart(12)}${r.min_ns_per_eval.toFixed(1).padStart(8)}` +
                `${r.cpu_ns_per_eval.toFixed(1).padStart(13)}  ${r.iterations}`);
  }
}

main();
