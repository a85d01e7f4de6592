#!/usr/bin/python3
"""The broker's access control (conf/mosquitto: TLS, password file, ACL),
with Mosquitto's own clients as the nodes, the controller and the operator:

- node1 may publish under nnedge/node/node1/ and read nnedge/cmd/node1
  (the allowed cases: they prove that a denial below is the ACL's doing);
- node1 may not publish under nnedge/node/node2/, nor on nnedge/cmd/...,
  nnedge/fleet/...; it may not read nnedge/cmd/node2 (even through a
  wildcard subscription), nor nnedge/node/node2/...;
- the operator may publish nnedge/fleet/request and read nnedge/fleet/status,
  but not write the status or a node's command topic;
- a wrong password, no user (anonymous), plain MQTT (no TLS) and a client
  that trusts another CA are refused.

Every denied publish is checked against a controller subscribed to
nnedge/# (which sees everything that gets through); every denied read
against the same message being read by the node it belongs to.
Usage: test_acl.py [WORKDIR]"""
import os
import secrets
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleetlib import Cases, Fleet  # noqa: E402


def sub_start(f, user, topic, wait_s=2):
    """mosquitto_sub as user on topic for wait_s seconds (retained messages
    arrive at once); returns the Popen."""
    argv = ["mosquitto_sub", *f.mqtt_args(user), "-v", "-t", topic, "-W", str(wait_s)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def main():
    c = Cases("fleet acl")
    f = Fleet(sys.argv[1] if len(sys.argv) > 1 else None)
    f.broker(users=("node1", "node2"))
    spy = f.subscribe("spy", ["nnedge/#"], user="controller")
    time.sleep(0.5)
    tag = secrets.token_hex(4)

    # --- publishing: each (user, topic, allowed) -----------------------------
    pubs = [
        ("node1", "nnedge/node/node1/data", True),
        ("node1", "nnedge/node/node1/birth", True),
        ("node2", "nnedge/node/node2/data", True),
        ("node1", "nnedge/node/node2/data", False),
        ("node1", "nnedge/node/node2/birth", False),
        ("node1", "nnedge/node/node2/death", False),
        ("node1", "nnedge/cmd/node1", False),
        ("node1", "nnedge/cmd/node2", False),
        ("node1", "nnedge/fleet/status", False),
        ("node1", "nnedge/fleet/request", False),
        ("node1", "nnedge/fleet/event", False),
        ("node1", "nnedge/node/node1x/data", False),
        ("operator", "nnedge/fleet/request", True),
        ("operator", "nnedge/fleet/status", False),
        ("operator", "nnedge/cmd/node1", False),
        ("operator", "nnedge/node/node1/data", False),
        ("controller", "nnedge/cmd/node9", True),
    ]
    sent = []
    for i, (user, topic, allowed) in enumerate(pubs):
        payload = "acl-%s-%d" % (tag, i)
        r = f.publish(topic, payload, user=user)
        c.check("publish %s %s exit status" % (user, topic), r.returncode == 0,
                r.stderr.decode(errors="replace"))
        sent.append((user, topic, allowed, payload))
    time.sleep(1.0)
    seen = set(spy.out().splitlines())
    n_allowed = n_denied = 0
    for user, topic, allowed, payload in sent:
        got = ("%s %s" % (topic, payload)) in seen
        if allowed:
            n_allowed += c.check("%s may publish %s" % (user, topic), got, "the controller did not receive it")
        else:
            n_denied += c.check("%s may not publish %s" % (user, topic), not got, "the controller received it")
    print("publish: %d allowed cases delivered, %d denied cases dropped" % (n_allowed, n_denied))

    # --- reading: retained commands by the controller ------------------------
    for node in ("node1", "node2"):
        r = f.publish("nnedge/cmd/" + node, '{"v":1,"for":"%s","tag":"%s"}' % (node, tag), user="controller",
                      retain=True)
        c.check("controller publishes cmd/%s" % node, r.returncode == 0, r.stderr)
    f.publish("nnedge/node/node2/birth", '{"v":1,"id":"node2","tag":"%s"}' % tag, user="node2", retain=True)
    f.publish("nnedge/fleet/status", '{"v":1,"tag":"%s"}' % tag, user="controller", retain=True)
    # (user, topic filter, the cmd topics' owners it must see; None: sees nothing of this run)
    reads = [
        ("node1", "nnedge/cmd/node1", ["node1"]),
        ("node2", "nnedge/cmd/node2", ["node2"]),
        ("node1", "nnedge/cmd/node2", []),
        ("node1", "nnedge/cmd/#", ["node1"]),        # a wildcard yields only its own
        ("node1", "nnedge/#", ["node1"]),
        ("node2", "nnedge/cmd/+", ["node2"]),
        ("operator", "nnedge/cmd/#", []),
        # A node's birth is not readable by another node; the controller reads it.
        ("node1", "nnedge/node/node2/#", None),
        ("controller", "nnedge/node/node2/birth", "birth"),
        # The fleet's status: the operator reads it, a node does not.
        ("operator", "nnedge/fleet/status", "status"),
        ("node1", "nnedge/fleet/status", None),
    ]
    # All subscribers at once (each waits 2 s for retained messages).
    running = [(u, t, want, sub_start(f, u, t)) for u, t, want in reads]
    for user, topic, want, p in running:
        out, err = p.communicate(timeout=30)
        lines = [l for l in out.decode(errors="replace").splitlines() if tag in l]
        label = "%s reads %s" % (user, topic)
        if isinstance(want, list):
            owners = sorted(set(l.split()[0].rsplit("/", 1)[1] for l in lines if l.startswith("nnedge/cmd/")))
            c.check("%s -> %s" % (label, want), owners == want, "got %s (%s)" % (owners, err.strip()))
        elif want is None:
            c.check("%s -> nothing" % label, not lines, lines)
        else:
            c.check("%s -> its %s" % (label, want), len(lines) == 1, (lines, err.strip()))

    # --- authentication and TLS ---------------------------------------------
    refused = [
        ("wrong password", dict(user="node1", password="not-" + f.passwords["node1"])),
        ("another node's password", dict(user="node1", password=f.passwords["node2"])),
        ("unknown user", dict(user="node3", password="x")),
        ("no user (anonymous)", dict(user=None)),
        ("plain MQTT, no TLS", dict(user="node1", tls=False)),
        ("a client that trusts another CA", dict(user="node1", ca=f.wrong_ca)),
    ]
    for label, kw in refused:
        payload = "refused-%s-%s" % (tag, label.replace(" ", "_"))
        r = f.publish("nnedge/node/node1/data", payload, timeout=15, **kw)
        c.check("refused: %s (exit status)" % label, r.returncode != 0,
                "mosquitto_pub exit 0: %s" % r.stderr.decode(errors="replace"))
        time.sleep(0.2)
        c.check("refused: %s (nothing delivered)" % label, payload not in spy.out(), "delivered")
    # The same client with the right password and CA gets through.
    payload = "accepted-%s" % tag
    r = f.publish("nnedge/node/node1/data", payload, user="node1")
    time.sleep(0.5)
    c.check("accepted: node1 with its password over TLS", r.returncode == 0 and payload in spy.out(),
            r.stderr.decode(errors="replace"))
    log = f.broker_log()
    print("broker log: %d connections refused as not authorised, %d TLS failures" % (
        log.count("disconnected, not authorised"), log.count("OpenSSL Error")))
    f.close()
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
