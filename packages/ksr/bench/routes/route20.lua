-- The fixed ~20-call route of the route micro-benchmark (core KSR functions only).
function ksr_request_route()
  local n = 0
  if KSR.is_INVITE() then n = n + 1 end
  if KSR.is_method_in("IR") then n = n + 1 end
  if KSR.is_myself_ruri() then n = n + 1 end
  if KSR.hdr.is_present("Contact") > 0 then n = n + 1 end
  local ru = KSR.pv.get("$ru")
  local fu = KSR.pv.get("$fU")
  local si = KSR.pv.get("$si")
  local ci = KSR.pv.get("$ci")
  local ua = KSR.hdr.get("User-Agent")
  local tt = KSR.pv.get("$tt")
  KSR.setflag(2)
  if KSR.isflagset(2) then n = n + 1 end
  KSR.pv.sets("$var(user)", fu)
  KSR.pv.seti("$var(n)", n)
  local m = KSR.pv.geti("$var(n)")
  if not KSR.isdsturiset() then KSR.setdsturi("sip:127.0.0.1:5080") end
  KSR.resetdsturi()
  if KSR.is_REGISTER() then n = n + 1 end
  KSR.resetflag(2)
  return m
end
