-- An incoming Authentication-Results claiming our authserv-id is removed;
-- one from someone else stays.
dofile("common.luainc")
local conn = open()
local h = {
  {"Authentication-Results", "other.example; dkim=pass header.d=example.com"},
  {"Authentication-Results", "mx.e2e.test; dkim=pass header.d=example.com"},
}
for _, f in ipairs(STANDARD) do table.insert(h, f) end
start(conn, "203.0.113.5", h)
body_and_eom(conn, "Hello.\r\n")
check(mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results")
      or mt.eom_check(conn, MT_HDRCHANGE, "Authentication-Results"),
      "forged Authentication-Results removed")
mt.disconnect(conn)
