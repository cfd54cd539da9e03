-- Folded header fields keep their folding and still sign.
dofile("common.luainc")
local conn = open()
start(conn, "127.0.0.1", {
  {"From", "Alice\n <alice@example.com>"},
  {"Subject", "a long\n\tfolded subject"},
  {"To", "bob@example.net,\n carol@example.net"},
})
body_and_eom(conn, "Hello.\r\n")
check(signed(conn), "signed")
mt.disconnect(conn)
