#!/usr/bin/env python3
"""Validates SARIF logs against the official SARIF 2.1.0 JSON schema, plus AgentQueue's own invariants.

Usage: validate_sarif.py SCHEMA LOG [LOG ...]
Prints one line per log and a closing "N passed, M failed" line; exits 1 if any log fails.
"""
import json
import sys

import jsonschema


def invariants(log):
    """Checks the schema cannot express: rule indexes, fingerprints, line numbers."""
    problems = []
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    if len(set(ids)) != len(ids):
        problems.append("duplicate rule ids")
    for number, result in enumerate(run.get("results", [])):
        index = result.get("ruleIndex")
        if index is None or not 0 <= index < len(rules) or rules[index]["id"] != result["ruleId"]:
            problems.append(f"result {number}: ruleIndex does not point at rule {result['ruleId']}")
        fingerprint = result.get("partialFingerprints", {}).get("agentqueue/v1", "")
        if len(fingerprint) != 32:
            problems.append(f"result {number}: missing or malformed fingerprint")
        for location in result.get("locations", []):
            region = location["physicalLocation"].get("region")
            if region is not None and region.get("startLine", 0) < 1:
                problems.append(f"result {number}: startLine below 1")
    return problems


def main(arguments):
    if len(arguments) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(arguments[0], encoding="utf-8") as handle:
        schema = json.load(handle)
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    passed = failed = 0
    for path in arguments[1:]:
        try:
            with open(path, encoding="utf-8") as handle:
                log = json.load(handle)
            errors = [f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
                      for error in validator.iter_errors(log)]
            if not errors:
                errors = invariants(log)
        except (OSError, ValueError, KeyError, IndexError) as error:
            errors = [f"unreadable: {error}"]
        if errors:
            failed += 1
            print(f"FAIL {path}")
            for error in errors[:8]:
                print(f"     {error}")
        else:
            passed += 1
            results = len(log["runs"][0].get("results", []))
            print(f"ok   {path} ({results} results)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
