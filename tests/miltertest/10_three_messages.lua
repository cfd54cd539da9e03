-- Three messages on one connection, each signed once.
dofile("common.luainc")
local conn = open()
ok(mt.conninfo(conn, "client.example", "127.0.0.1"), "conninfo")
for i = 1, 3 do
  ok(mt.mailfrom(conn, "<alice@example.com>"), "mailfrom")
  ok(mt.rcptto(conn, "<bob@example.net>"), "rcptto")
  ok(mt.header(conn, "From", "alice@example.com"), "from")
  ok(mt.header(conn, "Subject", "message " .. i), "subject")
  ok(mt.eoh(conn), "eoh")
  body_and_eom(conn, "body " .. i .. "\r\n")
  expect_reply(conn, SMFIR_CONTINUE, "eom " .. i)
  check(signed(conn), "message " .. i .. " signed")
end
mt.disconnect(conn)
