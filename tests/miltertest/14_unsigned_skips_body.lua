-- Mail mass has no use for the body of (two From fields): it answers SKIP.
dofile("common.luainc")
local conn = open()
start(conn, "127.0.0.1", {{"From", "a@example.com"}, {"From", "b@example.com"}})
ok(mt.bodystring(conn, "chunk\r\n"), "body")
expect_reply(conn, SMFIR_SKIP, "body")
ok(mt.eom(conn), "eom")
expect_reply(conn, SMFIR_REPLYCODE, "eom")
mt.disconnect(conn)
