#!/usr/bin/python3
"""Smoke test of the varavctl binary against the real varavd.

Starts varavd on port 0 with a temporary store and principals file, then runs `varavctl demo`
and a handful of commands on the demo's service, checking exit codes (0 success, 1 failure or a
check that does not pass, 2 usage), that tables and --json output carry the expected content,
and that errors name the gRPC status code.

Usage: varavctl_smoke_test.py --varavd PATH --varavctl PATH --rules DIR
"""

import argparse
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import yaml

ARGS = None
ENV = None
TMP = None
SERVER = None


def start_server():
    global ENV, TMP, SERVER
    TMP = tempfile.mkdtemp(prefix="varavctl-smoke-")
    admin = secrets.token_hex(32)
    editor = secrets.token_hex(32)
    with open(os.path.join(TMP, "principals.yaml"), "w") as f:
        f.write("principals:\n"
                "  - id: smoke:admin\n    roles: [admin]\n    token_sha256: %s\n"
                "  - id: ska:editor\n    agency: sotsiaalkindlustusamet\n"
                "    roles: [\"agency_editor:sotsiaalkindlustusamet\"]\n    token_sha256: %s\n"
                % (hashlib.sha256(admin.encode()).hexdigest(),
                   hashlib.sha256(editor.encode()).hexdigest()))
    with open(os.path.join(TMP, "editor-token"), "w") as f:
        f.write(editor + "\n")
    port_file = os.path.join(TMP, "port")
    log = open(os.path.join(TMP, "varavd.log"), "w")
    SERVER = subprocess.Popen(
        [ARGS.varavd, "--listen=127.0.0.1:0", "--port_file=" + port_file,
         "--data_dir=" + os.path.join(TMP, "data"), "--rules_dir=" + ARGS.rules,
         "--principals_file=" + os.path.join(TMP, "principals.yaml"), "--log_calls=false"],
        stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if SERVER.poll() is not None:
            raise RuntimeError("varavd exited early")
        if os.path.exists(port_file) and open(port_file).read().strip():
            break
        time.sleep(0.05)
    port = open(port_file).read().strip()
    ENV = dict(os.environ, VARAV_ADDR="127.0.0.1:" + port, VARAV_TOKEN=admin)
    # The port is written before the packs are loaded; wait until calls are served.
    while time.time() < deadline:
        if varavctl("rules", "list")[0] == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("varavd did not become ready")


def varavctl(*args, env=None):
    p = subprocess.run([ARGS.varavctl] + list(args), env=env or ENV, capture_output=True,
                       text=True, timeout=120, cwd=TMP)
    return p.returncode, p.stdout, p.stderr


class VaravctlSmoke(unittest.TestCase):
    service_id = "vanemahyvitis-smoke"

    def test_1_demo_walks_the_service_through_gate_a(self):
        rc, out, err = varavctl("demo", "--service-id", self.service_id)
        sys.stdout.write(out)
        self.assertEqual(rc, 0, err)
        self.assertIn("-> RegisterService(" + self.service_id, out)
        self.assertIn("missing outputs: goals_metrics, management_plan, team, vision", out)
        self.assertIn("READY for review", out)
        self.assertIn("awaiting business_panel and it_funding_council", out)
        self.assertIn("gate A outcome go_with_conditions", out)
        self.assertIn("hash chain intact", out)

    def test_2_gate_check_exits_one_while_gate_b_is_not_ready(self):
        rc, out, err = varavctl("gate", "check", self.service_id)
        self.assertEqual(rc, 1, err)
        self.assertIn("gate B", out)
        self.assertIn("NOT READY", out)
        self.assertIn("missing outputs:", out)
        self.assertIn("user_research", out)
        rc, out, _ = varavctl("gate", "check", self.service_id, "--gate", "A")
        self.assertEqual(rc, 0, out)
        self.assertIn("PASS", out)

    def test_3_json_output_is_protobuf_json(self):
        rc, out, err = varavctl("services", "get", self.service_id, "--json")
        self.assertEqual(rc, 0, err)
        service = json.loads(out)["service"]
        self.assertEqual(service["stage"], "understand")
        self.assertEqual(service["status"], "SERVICE_STATUS_ACTIVE")
        rc, out, err = varavctl("events", "list", self.service_id, "--json", "--all")
        self.assertEqual(rc, 0, err)
        types = [e["type"] for e in json.loads(out)["events"]]
        self.assertIn("ee.varav.gate.approved_with_conditions", types)

    def test_4_tables_and_audit(self):
        rc, out, err = varavctl("services", "list", "--stage", "understand")
        self.assertEqual(rc, 0, err)
        self.assertIn(self.service_id, out)
        self.assertIn("Vanemahüvitise e-teenus", out)
        rc, out, err = varavctl("gate", "status", self.service_id, "--gate", "A")
        self.assertEqual(rc, 0, err)
        self.assertIn("business_panel", out)
        self.assertIn("go_with_conditions", out)
        self.assertIn("open conditions:", out)
        rc, out, err = varavctl("audit", "verify", self.service_id)
        self.assertEqual(rc, 0, err)
        self.assertIn("intact", out)
        rc, out, err = varavctl("rules", "eval", self.service_id,
                                "outputs.vision.fields.horizon_years")
        self.assertEqual(rc, 0, err)
        self.assertIn("5", out)

    def test_5_mutations_with_an_editor_token(self):
        env = dict(ENV)
        del env["VARAV_TOKEN"]
        token_file = os.path.join(TMP, "editor-token")
        fixture = os.path.join(ARGS.rules, "teenuse-standard-2.0", "tests", "gate_b.yaml")
        with open(fixture, encoding="utf-8") as f:
            fields = yaml.safe_load(f)["fixtures"]["gate_b_complete"]["outputs"]["user_research"]
        fields_file = os.path.join(TMP, "user_research.json")
        with open(fields_file, "w", encoding="utf-8") as f:
            json.dump(fields["fields"], f, default=lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"))
        rc, out, err = varavctl("outputs", "submit", self.service_id, "--type", "user_research",
                                "--doc-system", "dhs", "--doc-id", "SKA/VH-5",
                                "--file", fields_file, "--fields", "@" + fields_file,
                                "--token-file", token_file, env=env)
        self.assertEqual(rc, 0, err)
        self.assertIn("submitted user_research revision 1", out)
        self.assertIn("gate B:", out)
        rc, out, err = varavctl("gate", "review", self.service_id, "--token-file", token_file,
                                env=env)
        self.assertEqual(rc, 1)
        self.assertIn("FAILED_PRECONDITION", err)
        rc, _, err = varavctl("outputs", "submit", self.service_id, "--type", "as_is",
                              "--doc-system", "dhs", "--doc-id", "x", "--sha256", "0" * 64,
                              "--etag", "stale", "--token-file", token_file, env=env)
        self.assertEqual(rc, 1)
        self.assertIn("ABORTED", err)

    def test_6_errors_and_usage(self):
        env = dict(ENV, VARAV_TOKEN="wrong")
        rc, _, err = varavctl("services", "list", env=env)
        self.assertEqual(rc, 1)
        self.assertIn("UNAUTHENTICATED", err)
        rc, _, err = varavctl("services", "get", "no-such-service")
        self.assertEqual(rc, 1)
        self.assertIn("NOT_FOUND", err)
        rc, _, err = varavctl("gate", "decide", self.service_id, "--panel", "business_panel")
        self.assertEqual(rc, 2)
        rc, _, err = varavctl("assess", self.service_id, "P5", "--answer", "P5.Q1=maybe")
        self.assertEqual(rc, 2)
        self.assertIn("not one of yes, partly, no, na", err)
        rc, out, _ = varavctl("--help")
        self.assertEqual(rc, 0)
        self.assertIn("gate check", out)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--varavd", required=True)
    parser.add_argument("--varavctl", required=True)
    parser.add_argument("--rules", required=True)
    ARGS = parser.parse_args()
    for name in ("varavd", "varavctl", "rules", "stubs"):
        if getattr(ARGS, name, None):
            setattr(ARGS, name, os.path.abspath(getattr(ARGS, name)))
    start_server()
    ok = False
    try:
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(VaravctlSmoke)
        result = unittest.TextTestRunner(verbosity=2, failfast=True).run(suite)
        ok = result.wasSuccessful()
    finally:
        SERVER.terminate()
        SERVER.wait(timeout=30)
        if not ok:
            print(open(os.path.join(TMP, "varavd.log")).read()[-4000:])
        shutil.rmtree(TMP, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
