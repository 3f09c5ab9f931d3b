// Writes the CEL specification's conformance suite, as carried by @bufbuild/cel-spec, to one JSON
// file that the C++ runner reads:
//
//   node export.js OUT.json
//
// Output: {"source": "@bufbuild/cel-spec@<version>", "total": N, "sections": [
//            {"name": "basic", "suites": [{"name": "self_eval_zeroish", "tests": [<SimpleTest>...]}]}]}
// where each test is the canonical protobuf JSON form of cel.expr.conformance.test.SimpleTest
// (int64 as strings, bytes as base64, google.protobuf.Any as {"@type": ..., fields...}).
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { toJson } = require("@bufbuild/protobuf");
const { getConformanceSuite } = require("@bufbuild/cel-spec/testdata/tests.js");
const { getTestRegistry } = require("@bufbuild/cel-spec/testdata/registry.js");
const { SimpleTestSchema } = require("@bufbuild/cel-spec/cel/expr/conformance/test/simple_pb.js");

function main() {
  const out = process.argv[2];
  if (!out) {
    console.error("usage: node export.js OUT.json");
    process.exit(2);
  }
  // Any-typed values (messages embedded in expected results) need the test message types.
  const registry = getTestRegistry();
  // The package's "exports" map hides package.json, so read it next to this script.
  const pkg = JSON.parse(
    fs.readFileSync(
      path.join(__dirname, "node_modules", "@bufbuild", "cel-spec", "package.json"),
      "utf8",
    ),
  );

  let total = 0;
  const exportTests = (tests) =>
    tests.map((t) => {
      total++;
      return toJson(SimpleTestSchema, t.original, { registry });
    });

  const root = getConformanceSuite();
  const sections = root.suites.map((section) => {
    const suites = section.suites.map((suite) => {
      if (suite.suites.length > 0) {
        throw new Error(`unexpected nesting below ${section.name}/${suite.name}`);
      }
      return { name: suite.name, tests: exportTests(suite.tests) };
    });
    if (section.tests.length > 0) {
      suites.push({ name: "", tests: exportTests(section.tests) });
    }
    return { name: section.name, suites };
  });

  const doc = { source: `${pkg.name}@${pkg.version}`, total, sections };
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  // Written under a temporary name first so a reader never sees half a file.
  fs.writeFileSync(`${out}.tmp`, JSON.stringify(doc));
  fs.renameSync(`${out}.tmp`, out);
  console.log(`exported ${total} conformance tests from ${doc.source} to ${out}`);
}

main();
