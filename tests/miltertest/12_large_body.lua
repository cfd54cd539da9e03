-- A body of 300 KB in random chunks is streamed and signed.
dofile("common.luainc")
local conn = open()
start(conn, "127.0.0.1", STANDARD)
ok(mt.bodyrandom(conn, 300000), "bodyrandom")
ok(mt.eom(conn), "eom")
expect_reply(conn, SMFIR_CONTINUE, "eom")
check(signed(conn), "signed")
mt.disconnect(conn)
