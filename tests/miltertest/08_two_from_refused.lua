-- Two From fields: never signed; on_refuse = "reject" answers 550.
dofile("common.luainc")
local conn = open()
start(conn, "127.0.0.1", {
  {"From", "alice@example.com"},
  {"From", "mallory@example.com"},
  {"Subject", "two authors"},
})
body_and_eom(conn, "Hello.\r\n")
expect_reply(conn, SMFIR_REPLYCODE, "eom")
check(mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1",
                   "Message not signed: several From authors"), "550 5.7.1 reply")
check(not signed(conn), "not signed")
mt.disconnect(conn)
