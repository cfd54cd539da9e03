-- A message aborted in the middle of its body, then another on the same
-- connection: the second is signed.
dofile("common.luainc")
local conn = open()
start(conn, "127.0.0.1", STANDARD)
ok(mt.bodystring(conn, "first part\r\n"), "body")
ok(mt.abort(conn), "abort")
ok(mt.mailfrom(conn, "<alice@example.com>"), "mailfrom 2")
ok(mt.rcptto(conn, "<bob@example.net>"), "rcptto 2")
for _, h in ipairs(STANDARD) do ok(mt.header(conn, h[1], h[2]), "header") end
ok(mt.eoh(conn), "eoh")
body_and_eom(conn, "second message\r\n")
expect_reply(conn, SMFIR_CONTINUE, "eom")
check(signed(conn), "second message signed")
mt.disconnect(conn)
