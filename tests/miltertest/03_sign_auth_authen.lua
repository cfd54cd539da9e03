-- An external client that authenticated ({auth_authen} at MAIL): signed.
dofile("common.luainc")
local conn = open()
ok(mt.conninfo(conn, "far.example", "192.0.2.7"), "conninfo")
ok(mt.macro(conn, SMFIC_MAIL, "i", "AUTH1", "{auth_authen}", "alice"), "macro")
ok(mt.mailfrom(conn, "<alice@example.com>"), "mailfrom")
ok(mt.rcptto(conn, "<bob@example.net>"), "rcptto")
for _, h in ipairs(STANDARD) do ok(mt.header(conn, h[1], h[2]), "header") end
ok(mt.eoh(conn), "eoh")
body_and_eom(conn, "Hi.\r\n")
check(signed(conn), "DKIM-Signature inserted for an authenticated client")
mt.disconnect(conn)
