"""An operator's interactive login: `ssh -tt` into the PIC, driven through a pty with
pexpect. Prints one JSON object with what the terminal showed; the Rust test compares it
with mspic. Exits 1 (with what it saw) when an expected screen does not come.

usage: cli_check.py HOST PORT KEY
"""

import json
import re
import sys

import pexpect

HOST, PORT, KEY = sys.argv[1], sys.argv[2], sys.argv[3]
PROMPT = r"root@[^\s>]+> "
# Terminal control sequences (cursor moves, line clears) and carriage returns.
CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def clean(s):
    return CONTROL.sub("", s)


out = {}
ssh = pexpect.spawn(
    "ssh",
    ["-tt", "-i", KEY, "-p", PORT, "-o", "StrictHostKeyChecking=no",
     "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
     "root@" + HOST],
    encoding="utf-8",
    timeout=20,
    dimensions=(40, 200),
)
try:
    ssh.expect(PROMPT)
    out["prompt"] = clean(ssh.after)

    ssh.sendline("show services sessions | count")
    ssh.expect(r"Count: \d+ lines")
    out["count"] = ssh.after
    ssh.expect(PROMPT)

    # Tab completes the last word; `?` then lists what may follow the completed line.
    ssh.send("show services ses\t")
    ssh.send("?")
    ssh.expect(r"Possible completions:[\s\S]*?" + PROMPT)
    out["help"] = clean(ssh.after)
    # The line comes back for editing: clear it, then leave.
    ssh.send("\x15")
    ssh.sendline("exit")
    ssh.expect(pexpect.EOF)
    ssh.close()
    out["status"] = ssh.exitstatus
except (pexpect.TIMEOUT, pexpect.EOF) as e:
    out["error"] = type(e).__name__
    out["seen"] = clean(ssh.before or "")
    print(json.dumps(out), flush=True)
    sys.exit(1)
print(json.dumps(out), flush=True)
