-- Option negotiation: the actions and protocol flags mass asks for.
dofile("common.luainc")
local conn = open()
check(mt.test_action(conn, SMFIF_ADDHDRS), "asks for ADDHDRS")
check(mt.test_action(conn, SMFIF_CHGHDRS), "asks for CHGHDRS")
check(mt.test_option(conn, SMFIP_SKIP), "asks for SKIP")
check(mt.test_option(conn, SMFIP_HDR_LEADSPC), "asks for HDR_LEADSPC")
check(not mt.test_action(conn, SMFIF_CHGBODY), "never asks to change the body")
mt.disconnect(conn)
