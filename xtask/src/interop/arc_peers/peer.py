"""dkimpy as an ARC peer of `cargo xtask interop` (arc_peers.rs writes it into its work dir).

  python3 arc_peer.py KEYS JOBS
KEYS: lines `name<TAB>TXT data` (no DNS: dkimpy's dnsfunc answers from them).
JOBS: tab-separated lines, one job each:
  verify IN                         -> `ok IN CV REASON` (dkim.arc_verify)
  seal IN OUT KEY ALG D S SRVID T RESULTS
      dkimpy validates the chain itself (arc_verify), records RESULTS and
      arc=CV in an Authentication-Results field for SRVID (what ARC.sign reads
      its cv from), seals with ARC.sign and writes the new set on top of the
      message as it came to OUT -> `ok IN CV`.
A job that raises prints `err IN WHY`.
"""
import base64, re, sys, logging
import dkim

log = logging.getLogger("arc-peer")
log.addHandler(logging.NullHandler())
keys = {}
for line in open(sys.argv[1], encoding="utf-8"):
    name, _, data = line.rstrip("\n").partition("\t")
    keys[name.lower().rstrip(".")] = data.encode()


def dnsfunc(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode("ascii", "replace")
    return keys.get(name.lower().rstrip("."))


def cv_of(msg):
    cv, _, why = dkim.arc_verify(msg, logger=log, dnsfunc=dnsfunc)
    # None: the newest seal says cv=fail, the chain is over.
    return (cv or b"fail").decode(), why


def seal(msg, key, alg, d, s, srv, t, results):
    cv, _ = cv_of(msg)
    ar = "Authentication-Results: %s; %s; arc=%s\r\n" % (srv, results, cv)
    a = dkim.ARC(ar.encode() + msg, logger=log, signature_algorithm=alg.encode())
    pem = open(key, "rb").read()
    fields = a.sign(s.encode(), d.encode(), pem, srv.encode(), timestamp=t)
    if not fields:
        raise RuntimeError("ARC.sign sealed nothing")
    return b"".join(fields) + msg, cv


for line in open(sys.argv[2], encoding="utf-8"):
    job = line.rstrip("\n").split("\t")
    try:
        msg = open(job[1], "rb").read()
        if job[0] == "verify":
            cv, why = cv_of(msg)
            print("ok\t%s\t%s\t%s" % (job[1], cv, str(why).replace("\n", " ")))
        else:
            out, cv = seal(msg, *job[3:10])
            open(job[2], "wb").write(out)
            print("ok\t%s\t%s" % (job[1], cv))
    except Exception as e:  # a peer error is that job's failure, with its reason
        print("err\t%s\t%s: %s" % (job[1], type(e).__name__, str(e).replace("\n", " ")))
    sys.stdout.flush()
