-- ksr basic example: registrar + proxy, in Lua.
--
-- Every SIP request that reaches the server runs ksr_request_route(). The steps below follow the
-- order a production proxy uses; each KSR.* call is a typed function of a ksr module (the list is
-- in docs/kemi-api.md). Requests are relayed statefully through tm (a transaction per request:
-- retransmissions, replies and timeouts are handled for the script); authentication and flood
-- protection come with the next versions of this example.

-- Relay the request statefully; answer with the error if it cannot even be sent.
local function relay()
  if KSR.tm.t_relay() < 0 then
    KSR.sl.sl_reply_error()
  end
  KSR.x.exit()
end

-- The first checks every request passes.
local function request_init()
  -- Max-Forwards: add it when absent, decrement it, and refuse a request that ran out of hops
  -- (a routing loop somewhere) with 483.
  if KSR.maxfwd.process_maxfwd(10) < 0 then
    KSR.sl.sl_send_reply(483, "Too Many Hops")
    KSR.x.exit()
  end
  -- Structural checks of the message; a failing check has already been answered by sanity.
  if KSR.sanity.sanity_check(17895, 7) < 1 then
    KSR.xlog.xerr("malformed SIP request from $si:$sp\n")
    KSR.x.exit()
  end
end

-- Requests inside an established dialog (they carry a To tag) follow the Route set that
-- record-routing built when the dialog started.
local function within_dialog()
  if KSR.siputils.has_totag() < 0 then
    return
  end
  if KSR.rr.loose_route() > 0 then
    relay()
  end
  if KSR.is_ACK() then
    -- an ACK without a Route: relay it if it belongs to a transaction of ours, else it is stray
    if KSR.tm.t_check_trans() > 0 then
      relay()
    end
    KSR.x.exit()
  end
  KSR.sl.sl_send_reply(404, "Not here")
  KSR.x.exit()
end

-- REGISTER: store the contact addresses of the user (the location table is in memory) and answer
-- with all its current bindings.
local function registrar()
  if not KSR.is_REGISTER() then
    return
  end
  if KSR.registrar.save("location", 0) < 0 then
    KSR.sl.sl_reply_error()
  end
  KSR.x.exit()
end

-- Requests for users of this server: find where they are registered.
local function location()
  local rc = KSR.registrar.lookup("location")
  if rc < 0 then
    if KSR.is_ACK() then
      KSR.x.exit()
    end
    if rc == -2 then
      KSR.sl.send_reply(405, "Method Not Allowed")
    else
      KSR.sl.send_reply(404, "Not Found")
    end
    KSR.x.exit()
  end
end

function ksr_request_route()
  request_init()

  -- CANCEL: relay it into the INVITE's transaction (tm answers it and cancels the branches).
  if KSR.is_CANCEL() then
    if KSR.tm.t_check_trans() > 0 then
      relay()
    end
    KSR.x.exit()
  end

  -- A retransmission of a request already being handled: tm re-sends its last reply (0 = done).
  if not KSR.is_ACK() and KSR.tm.t_check_trans() == 0 then
    KSR.x.exit()
  end

  -- OPTIONS to the server itself (no user part) is a keepalive or health probe.
  if KSR.is_OPTIONS() and KSR.is_myself_ruri() and KSR.corex.has_ruri_user() < 0 then
    KSR.sl.sl_send_reply(200, "Keepalive")
    KSR.x.exit()
  end

  within_dialog()
  registrar()

  -- A request for another domain: relay it as it is (a real deployment would authenticate
  -- the caller before letting it use this server as a relay).
  if not KSR.is_myself_ruri() then
    relay()
  end

  -- A request without a user part for this server cannot be routed.
  if KSR.corex.has_ruri_user() < 0 then
    KSR.sl.sl_send_reply(484, "Address Incomplete")
    KSR.x.exit()
  end

  location()

  -- Dialog-creating requests are record-routed so the rest of the dialog comes back through
  -- this proxy (after lookup, so the Record-Route names the socket the request leaves from).
  if KSR.is_INVITE() or KSR.is_SUBSCRIBE() then
    KSR.rr.record_route()
  end
  relay()
end
