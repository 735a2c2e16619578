"""ncclient against `mspic netconf` over SSH: base:1.0 and base:1.1 framing, lock/unlock,
and malformed input (a truncated chunk, a 100 MB message, invalid XML), each of which must
end its session with an error. Prints one `ok NAME` line per scenario; exits 1 on the first
failure.

usage: ncclient_check.py HOST PORT KEY
"""

import sys
import time

from ncclient import manager
from ncclient.devices.default import DefaultDeviceHandler
from ncclient.xml_ import to_ele

HOST, PORT, KEY = sys.argv[1], int(sys.argv[2]), sys.argv[3]
BASE_11 = "urn:ietf:params:netconf:base:1.1"


def connect():
    return manager.connect(
        host=HOST,
        port=PORT,
        username="root",
        key_filename=KEY,
        hostkey_verify=False,
        allow_agent=False,
        look_for_keys=False,
        timeout=30,
    )


def check(cond, what):
    if not cond:
        print("FAILED " + what, flush=True)
        sys.exit(1)


def wait_closed(m, what):
    deadline = time.time() + 30
    while time.time() < deadline:
        if not m.connected:
            return
        time.sleep(0.05)
    check(False, what + ": the session did not end")


def find(reply, name):
    """Elements named `name` anywhere in an RPC reply (namespaces ignored)."""
    return to_ele(reply.xml).xpath("//*[local-name()='%s']" % name)


def channel(m):
    return m._session._channel


def framed(m, text):
    data = text.encode()
    if BASE_11 in m.server_capabilities and BASE_11 in m.client_capabilities:
        return b"\n#%d\n" % len(data) + data + b"\n##\n"
    return data + b"]]>]]>"


def session_basics(name):
    with connect() as m:
        chunked = BASE_11 in m.client_capabilities
        check(BASE_11 in m.server_capabilities, name + ": server offers base:1.1")
        r = m.rpc(to_ele("<get-software-information/>"))
        check(find(r, "product-model")[0].text == "mspic", name + ": product-model")
        r = m.rpc(to_ele('<command format="text">show services sessions count</command>'))
        check(find(r, "output") != [], name + ": command output")
        m.lock("candidate")
        try:
            m.lock("candidate")
            check(False, name + ": a second lock must fail")
        except Exception as e:  # RPCError: lock-denied
            check("lock" in str(e).lower(), name + ": lock-denied: " + str(e))
        m.unlock("candidate")
        r = m.get_config(source="running")
        check(find(r, "service-set") != [], name + ": get-config")
        r = m.rpc(to_ele("<get-configuration format=\"set\"/>"))
        check("set services" in find(r, "configuration-set")[0].text, name + ": configuration")
        try:
            m.rpc(to_ele("<get-bgp-summary-information/>"))
            check(False, name + ": unknown RPC must fail")
        except Exception as e:
            check("not an RPC mspic answers" in str(e), name + ": unknown RPC error: " + str(e))
        print("ok %s (chunked=%s)" % (name, chunked), flush=True)


# base:1.1 (chunked): ncclient's default.
session_basics("base11")

# base:1.0 (end-of-message): a client that offers only base:1.0.
caps = DefaultDeviceHandler._BASE_CAPABILITIES
DefaultDeviceHandler._BASE_CAPABILITIES = [c for c in caps if c != BASE_11]
session_basics("base10")
DefaultDeviceHandler._BASE_CAPABILITIES = caps

# A truncated chunk, then the client closes its side.
m = connect()
ch = channel(m)
ch.sendall(b"\n#100\n<rpc><close-")
ch.shutdown_write()
wait_closed(m, "truncated chunk")
print("ok truncated-chunk", flush=True)

# A chunk header announcing 100 MB: refused before its bytes come.
m = connect()
channel(m).sendall(b"\n#104857600\n")
wait_closed(m, "100 MB chunk")
print("ok huge-chunk", flush=True)

# 100 MB of end-of-message framing without a delimiter: cut off at the limit.
DefaultDeviceHandler._BASE_CAPABILITIES = [c for c in caps if c != BASE_11]
m = connect()
ch = channel(m)
block = b"<rpc>" + b"x" * (1024 * 1024 - 5)
sent = 0
try:
    while sent < 100 * 1024 * 1024 and not ch.closed and m.connected:
        ch.sendall(block)
        sent += len(block)
except Exception:
    pass
check(sent < 100 * 1024 * 1024, "100 MB message: all of it was accepted")
wait_closed(m, "100 MB message")
print("ok huge-message (cut after %d MiB)" % (sent >> 20), flush=True)
DefaultDeviceHandler._BASE_CAPABILITIES = caps

# Invalid XML.
m = connect()
channel(m).sendall(framed(m, "<rpc message-id=\"9\"><command>show</rpc>"))
wait_closed(m, "invalid XML")
print("ok invalid-xml", flush=True)

# After all that, a new session still works.
session_basics("after-errors")
