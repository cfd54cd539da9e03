-- An external client on the submission daemon ({daemon_name} at connect): signed.
dofile("common.luainc")
local conn = open()
ok(mt.macro(conn, SMFIC_CONNECT, "{daemon_name}", "ORIGINATING", "j", "mx.e2e.test"), "macro")
start(conn, "198.51.100.9", STANDARD)
body_and_eom(conn, "Hi.\r\n")
check(signed(conn), "DKIM-Signature inserted for daemon ORIGINATING")
mt.disconnect(conn)
