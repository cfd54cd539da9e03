#!/usr/bin/env python3
"""dkimpy as an interop peer for `cargo xtask interop`. No DNS: keys come from a zone file.

  dkimpy_peer.py verify --zone ZONE [--expect pass|fail] FILE...
      Checks every DKIM-Signature of each FILE with dkimpy. With --expect pass (the default)
      a file is ok when it has at least one signature and all of them verify; with
      --expect fail it is ok when none verifies. Prints "ok FILE" or "FAIL FILE: why" per file,
      then "dkimpy: N passed, M failed". Exit status 1 if any file was not ok.

  dkimpy_peer.py sign --key PEM --domain D --selector S --algorithm rsa-sha256|ed25519-sha256
                      --canon HEADER/BODY --out-dir DIR FILE...
      Signs each FILE and writes DIR/<basename>. RSA keys are PEM; Ed25519 keys are PKCS#8 PEM
      (the 32-byte seed is taken from it, as dkimpy wants the raw seed in base64).

Messages are read as an MTA puts them on the wire: bare LF line ends become CRLF (RFC 5322
section 2.3) and a missing final CRLF is added (RFC 5321 section 4.1.1.4); signed output is
written that way.
"""

import argparse
import base64
import logging
import os
import re
import sys

import dkim


def parse_zone(path):
    """name -> TXT data (strings joined) from `name [ttl] [IN] TXT "a" "b"` lines.

    Handles ; comments outside quotes and parentheses that span lines."""
    text = open(path, "rb").read().decode("utf-8")
    records = {}
    # Drop comments and join parenthesised continuations.
    logical, depth, cur = [], 0, ""
    for line in text.splitlines():
        out, inq, esc = "", False, False
        for ch in line:
            if esc:
                out += ch
                esc = False
                continue
            if ch == "\\" and inq:
                out += ch
                esc = True
                continue
            if ch == '"':
                inq = not inq
            if ch == ";" and not inq:
                break
            if ch == "(" and not inq:
                depth += 1
                ch = " "
            elif ch == ")" and not inq:
                depth -= 1
                ch = " "
            out += ch
        cur += " " + out
        if depth == 0:
            if cur.strip():
                logical.append(cur.strip())
            cur = ""
    for line in logical:
        m = re.match(r'^(\S+)\s+(?:\d+\s+)?(?:IN\s+)?TXT\s+(.*)$', line, re.I)
        if not m:
            continue
        name = m.group(1).lower().rstrip(".")
        strings = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2))
        if not strings:
            strings = [m.group(2).strip()]
        data = "".join(re.sub(r'\\(.)', r'\1', s) for s in strings)
        records[name] = data.encode("utf-8")
    return records


def to_crlf(data):
    """The message as SMTP delivers it: CRLF line ends and a final CRLF (RFC 5321 4.1.1.4).

    dkimpy 1.1.8 keeps the whitespace at the end of an unterminated last line in relaxed
    body canonicalization (RFC 6376 3.4.4 removes whitespace at the end of lines, then adds
    the missing CRLF); over SMTP such a line cannot occur, so the peers read the wire form."""
    data = re.sub(rb"(?<!\r)\n", b"\r\n", data)
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def cmd_verify(args):
    zone = parse_zone(args.zone)

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii", "replace")
        return zone.get(name.lower().rstrip("."))

    logger = logging.getLogger("dkimpy-peer")
    logger.addHandler(logging.NullHandler())
    passed = failed = 0
    for path in args.files:
        msg = to_crlf(open(path, "rb").read())
        why = ""
        try:
            d = dkim.DKIM(msg, logger=logger, minkey=1024)
            sigs = [h for h in d.headers if h[0].lower() == b"dkim-signature"]
            results = [bool(d.verify(idx=i, dnsfunc=dnsfunc)) for i in range(len(sigs))]
        except Exception as e:  # a peer error is a failed file, with its reason
            results, why = [], "%s: %s" % (type(e).__name__, e)
        if args.expect == "pass":
            ok = bool(results) and all(results)
            if not ok and not why:
                why = "no signature" if not results else "signature results %s" % results
        else:
            ok = not any(results)
            if not ok:
                why = "a tampered message verified: %s" % results
        if ok:
            passed += 1
            print("ok %s" % path)
        else:
            failed += 1
            print("FAIL %s: %s" % (path, why))
    print("dkimpy: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def load_key(path, algorithm):
    pem = open(path, "rb").read()
    if algorithm == "ed25519-sha256":
        body = b"".join(l for l in pem.splitlines() if l and not l.startswith(b"-----"))
        der = base64.b64decode(body)
        # PKCS#8 Ed25519 (RFC 8410): the seed is the last 32 octets.
        return base64.b64encode(der[-32:])
    return pem


def cmd_sign(args):
    key = load_key(args.key, args.algorithm)
    h, b = args.canon.split("/")
    os.makedirs(args.out_dir, exist_ok=True)
    failed = 0
    for path in args.files:
        msg = to_crlf(open(path, "rb").read())
        try:
            sig = dkim.sign(
                msg,
                args.selector.encode(),
                args.domain.encode(),
                key,
                canonicalize=(h.encode(), b.encode()),
                signature_algorithm=args.algorithm.encode(),
            )
        except Exception as e:
            failed += 1
            print("FAIL %s: %s: %s" % (path, type(e).__name__, e))
            continue
        with open(os.path.join(args.out_dir, os.path.basename(path)), "wb") as f:
            f.write(sig + msg)
    print("dkimpy sign: %d signed, %d failed" % (len(args.files) - failed, failed))
    return 1 if failed else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--zone", required=True)
    v.add_argument("--expect", choices=["pass", "fail"], default="pass")
    v.add_argument("files", nargs="+")
    s = sub.add_parser("sign")
    s.add_argument("--key", required=True)
    s.add_argument("--domain", required=True)
    s.add_argument("--selector", required=True)
    s.add_argument("--algorithm", choices=["rsa-sha256", "ed25519-sha256"], required=True)
    s.add_argument("--canon", default="relaxed/relaxed")
    s.add_argument("--out-dir", required=True)
    s.add_argument("files", nargs="+")
    args = p.parse_args()
    return cmd_verify(args) if args.cmd == "verify" else cmd_sign(args)


if __name__ == "__main__":
    sys.exit(main())
