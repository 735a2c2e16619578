"""PyEZ (junos-eznc) against `mspic netconf` over SSH. Prints one JSON object with what it
saw; the Rust test compares it with `mspic show`. Exits 1 when a step fails.

usage: pyez_check.py HOST PORT KEY step...
steps: facts, pool, sessions, usage, cli, load-good, load-replace, load-bad
"""

import json
import sys

from jnpr.junos import Device
from jnpr.junos.exception import ConfigLoadError
from jnpr.junos.utils.config import Config

HOST, PORT, KEY = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = {}

dev = Device(host=HOST, port=PORT, user="root", ssh_private_key_file=KEY, gather_facts=True)
dev.open()
for step in sys.argv[4:]:
    if step == "facts":
        f = dev.facts
        out["facts"] = {
            "hostname": f["hostname"],
            "model": f["model"],
            "version": f["version"],
            "re0": (f["RE0"] or {}).get("model"),
        }
    elif step == "pool":
        r = dev.rpc.get_service_nat_pool_information(detail=True)
        out["pools"] = [
            {
                "name": p.findtext("pool-name"),
                "ports-in-use": p.findtext("pool-ports-in-use"),
                "range": p.findtext("pool-address-range-list/pool-address-range"),
            }
            for p in r.iter("service-nat-pool")
        ]
    elif step == "sessions":
        r = dev.rpc.get_msp_session_table(extensive=True)
        out["sessions"] = len(list(r.iter("msp-session")))
        out["flows"] = len(list(r.iter("msp-flow")))
    elif step == "usage":
        r = dev.rpc.get_service_set_cpu_statistics()
        out["cpu"] = [
            [s.findtext("interface-name"), s.findtext("service-set-name"),
             float(s.findtext("cpu-utilization-percent"))]
            for s in r.iter("service-set-cpu-statistics")
        ]
        r = dev.rpc.get_service_set_memory_statistics(service_set="ss")
        out["memory"] = [
            [s.findtext("service-set-name"), int(s.findtext("service-set-bytes-used"))]
            for s in r.iter("service-set-memory-statistics")
        ]
    elif step == "cli":
        out["cli"] = dev.cli("show services sessions count", warning=False)
    elif step == "load-good":
        cu = Config(dev)
        cu.lock()
        cu.load("services {\n    nat {\n        pool extra {\n            address 192.0.2.0/30;\n        }\n    }\n}\n", format="text")
        out["diff"] = cu.diff()
        out["commit-check"] = cu.commit_check()
        out["commit"] = cu.commit()
        cu.unlock()
    elif step == "load-replace":
        # merge=False, overwrite=False: action="replace"; the tagged pool is replaced whole.
        cu = Config(dev)
        cu.lock()
        cu.load("services {\n    nat {\n        replace: pool extra {\n            address 192.0.2.8/30;\n        }\n    }\n}\n", format="text", merge=False, overwrite=False)
        out["diff"] = cu.diff()
        out["commit"] = cu.commit()
        cu.unlock()
    elif step == "load-bad":
        cu = Config(dev)
        try:
            cu.load("services {\n    nat {\n        pool broken {\n            bogus;\n        }\n    }\n}\n", format="text")
            out["load-bad"] = None
        except ConfigLoadError as e:
            out["load-bad"] = str(e)
    else:
        raise SystemExit("unknown step " + step)
dev.close()
print(json.dumps(out), flush=True)
