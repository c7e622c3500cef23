# The fixed ~20-call route of the route micro-benchmark (core KSR functions only), python3s style.
import KSR


def ksr_request_route():
    n = 0
    if KSR.is_INVITE():
        n += 1
    if KSR.is_method_in("IR"):
        n += 1
    if KSR.is_myself_ruri():
        n += 1
    if KSR.hdr.is_present("Contact") > 0:
        n += 1
    KSR.pv.get("$ru")
    fu = KSR.pv.get("$fU")
    KSR.pv.get("$si")
    KSR.pv.get("$ci")
    KSR.hdr.get("User-Agent")
    KSR.pv.get("$tt")
    KSR.setflag(2)
    if KSR.isflagset(2):
        n += 1
    KSR.pv.sets("$var(user)", fu)
    KSR.pv.seti("$var(n)", n)
    m = KSR.pv.geti("$var(n)")
    if not KSR.isdsturiset():
        KSR.setdsturi("sip:127.0.0.1:5080")
    KSR.resetdsturi()
    if KSR.is_REGISTER():
        n += 1
    KSR.resetflag(2)
    return m
