-- Internal client, From domain without a key: not signed, verified instead.
dofile("common.luainc")
local conn = open()
start(conn, "127.0.0.1", {{"From", "carol@example.net"}, {"Subject", "no key"}})
body_and_eom(conn, "Hello.\r\n")
expect_reply(conn, SMFIR_CONTINUE, "eom")
check(not signed(conn), "no signature without a key")
check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results"), "A-R inserted")
mt.disconnect(conn)
