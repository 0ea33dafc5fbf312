"""Runs the README's walkthrough as printed, and compares every answer with the one it shows.

The walkthrough is the `sh` block under "## Walkthrough with curl". Its commands run in one bash
session, in order, against the instance at PORT (the one change made to them: `localhost:8080`
becomes `localhost:PORT`). A command followed by lines `# ANSWER` is checked against them:

- an answer that is JSON must have the same fields; a string value ending in `...` (`"eyJ..."`)
  stands for any string that starts so, a number for any number, anything else for itself;
- any other answer (`204`) must be the command's output, exactly.

Comment lines that are not answers (prose, or a `# (...)` aside) are skipped.
    python3 scripts/readme_check.py README.md PORT
"""

import json
import subprocess
import sys
import tempfile


def walkthrough(text):
    lines = text.split("\n")
    start = lines.index("## Walkthrough with curl")
    begin = next(i for i in range(start, len(lines)) if lines[i].startswith("```sh"))
    end = next(i for i in range(begin + 1, len(lines)) if lines[i].startswith("```"))
    return lines[begin + 1 : end]


def steps(block):
    """[(command, [answer lines])]: a command is its line and any continued with a backslash."""
    result = []
    command = []
    for line in block:
        if command and command[-1].endswith("\\"):
            command.append(line)
            continue
        if line.startswith("# {") or (line.startswith("# ") and line[2:].strip().isdigit()):
            if result:
                result[-1][1].append(line[2:].strip())
            continue
        if line.startswith("#") or not line.strip():
            continue
        result.append(([line], []))
        command = result[-1][0]
    return [("\n".join(c), answers) for c, answers in result]


def matches(expected, actual):
    if isinstance(expected, str) and expected.endswith("..."):
        return isinstance(actual, str) and actual.startswith(expected[:-3])
    if isinstance(expected, bool) or expected is None:
        return expected == actual
    if isinstance(expected, (int, float)):
        return isinstance(actual, (int, float)) and not isinstance(actual, bool)
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and set(expected) == set(actual)
                and all(matches(expected[k], actual[k]) for k in expected))
    return expected == actual


def main():
    readme, port = sys.argv[1], sys.argv[2]
    todo = steps(walkthrough(open(readme).read()))
    with tempfile.TemporaryDirectory() as directory:
        script = ["set -u"]
        for index, (command, _) in enumerate(todo):
            command = command.replace("localhost:8080", f"localhost:{port}")
            script.append(f"{{ {command}\n}} >{directory}/{index}.out 2>&1")
        done = subprocess.run(["bash", "-c", "\n".join(script)], timeout=120)
        if done.returncode != 0:
            print(f"readme: the walkthrough's script failed ({done.returncode})")
        failures = 0
        checked = 0
        for index, (command, answers) in enumerate(todo):
            if not answers:
                continue
            checked += 1
            output = open(f"{directory}/{index}.out").read().strip()
            first = command.split("\n")[0]
            if answers[0].startswith("{"):
                try:
                    ok = matches(json.loads(answers[0]), json.loads(output.split("\n")[0]))
                except ValueError:
                    ok = False
            else:
                ok = output == "\n".join(answers)
            print(f"  {'ok  ' if ok else 'FAIL'}  {first[:90]}")
            if not ok:
                print(f"        README: {answers[0]}\n        authd:  {output[:300]}")
                failures += 1
        print(f"readme: {checked - failures} of {checked} answers as the README shows them")
        sys.exit(1 if failures or checked == 0 or done.returncode != 0 else 0)


if __name__ == "__main__":
    main()
