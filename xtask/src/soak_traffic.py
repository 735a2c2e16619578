# The soak's traffic mix, run in the testbed's client namespace by `cargo xtask soak`:
# one thread per kind, each paced to its rate, all for the given number of seconds.
#
#   http       GET of a 256 KiB file from python's http.server (TCP: open, data, close)
#   dns        an A query for example.test to dnsmasq (UDP, the DNS ALG closes it)
#   ping       an ICMP echo to the server
#   udp        a short UDP flow: a new socket, three datagrams to the echo server, echoes
#   malformed  an Ethernet frame to the PIC with a truncated or broken IPv4 header
#
# Prints one JSON object: per kind, attempts and successes (malformed: frames sent).
#
# usage: soak_traffic.py SECONDS PIC_MAC

import json, os, random, socket, struct, sys, threading, time, urllib.request

SECONDS = float(sys.argv[1])
PIC_MAC = bytes.fromhex(sys.argv[2].replace(':', ''))
SERVER = '198.51.100.7'
END = time.monotonic() + SECONDS
counts = {k: [0, 0] for k in ('http', 'dns', 'ping', 'udp', 'malformed')}
lock = threading.Lock()


def paced(kind, rate, once):
    """Runs `once()` `rate` times a second until the end; counts attempts and successes."""
    n = 0
    t0 = time.monotonic()
    while time.monotonic() < END:
        ok = False
        try:
            ok = once()
        except Exception:
            ok = False
        with lock:
            counts[kind][0] += 1
            counts[kind][1] += 1 if ok else 0
        n += 1
        ahead = t0 + n / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


def http():
    with urllib.request.urlopen('http://%s/soak.bin' % SERVER, timeout=5) as r:
        return len(r.read()) == 256 * 1024


def dns():
    qid = random.randrange(65536)
    q = struct.pack('!HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    q += b''.join(bytes([len(p)]) + p for p in (b'example', b'test')) + b'\0'
    q += struct.pack('!HH', 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.sendto(q, (SERVER, 53))
        a, _ = s.recvfrom(512)
        return len(a) > 12 and struct.unpack('!H', a[:2])[0] == qid and a[7] >= 1
    finally:
        s.close()


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


ping_seq = [0]


def ping():
    ping_seq[0] = (ping_seq[0] + 1) & 0xffff
    ident, seq = os.getpid() & 0xffff, ping_seq[0]
    body = struct.pack('!HH', ident, seq) + b'mspic soak'
    msg = struct.pack('!BBH', 8, 0, 0) + body
    msg = msg[:2] + struct.pack('!H', csum(msg)) + msg[4:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(2)
    try:
        s.sendto(msg, (SERVER, 0))
        end = time.monotonic() + 2
        while time.monotonic() < end:
            d, _ = s.recvfrom(1024)
            icmp = d[(d[0] & 0xf) * 4:]
            if icmp[0] == 0 and struct.unpack('!HH', icmp[4:8]) == (ident, seq):
                return True
        return False
    finally:
        s.close()


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        for i in range(3):
            s.sendto(b'soak %d' % i, (SERVER, 7))
            if s.recvfrom(2048)[0] != b'soak %d' % i:
                return False
        return True
    finally:
        s.close()


raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
raw.bind(('cl0', 0))
own_mac = raw.getsockname()[4]
bad_kind = [0]


def malformed():
    """IPv4 frames the PIC must count and drop: a header cut short, a header length below
    five words, a total length past the frame, a wrong version."""
    bad_kind[0] = (bad_kind[0] + 1) % 4
    src, dst = socket.inet_aton('10.0.0.2'), socket.inet_aton(SERVER)
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 28, 1, 0, 64, 17, 0, src, dst)
    hdr = hdr[:10] + struct.pack('!H', csum(hdr)) + hdr[12:]
    k = bad_kind[0]
    if k == 0:
        ip = hdr[:12]                                  # truncated header
    elif k == 1:
        ip = bytes([0x43]) + hdr[1:] + b'\0' * 8       # IHL 3
    elif k == 2:
        ip = hdr[:2] + struct.pack('!H', 1400) + hdr[4:] + b'\0' * 8   # length past the end
    else:
        ip = bytes([0x55]) + hdr[1:] + b'\0' * 8       # version 5
    raw.send(PIC_MAC + own_mac + b'\x08\x00' + ip)
    return True


kinds = [('http', 4, http), ('dns', 20, dns), ('ping', 5, ping), ('udp', 20, udp),
         ('malformed', 10, malformed)]
threads = [threading.Thread(target=paced, args=k, daemon=True) for k in kinds]
for t in threads:
    t.start()
for t in threads:
    t.join(SECONDS + 30)
print(json.dumps({k: {'attempts': a, 'ok': o} for k, (a, o) in counts.items()}), flush=True)
