# ksr basic example: a registrar and proxy, in Python, class style (app_python3, cfgengine "python").
#
# The same logic, step for step, is in basic.lua (Lua), basic3s.py (Python, script style) and
# basic.js (JavaScript); ksr.cfg picks one. Read this file top to bottom: each method is one
# step of what a SIP proxy does with a request.
#
# A few words of SIP for the reader new to it:
#   * Phones (user agents) send *requests* (INVITE to call, REGISTER to say where they are, BYE to
#     hang up, ...) and get *replies* with a status code (1xx progress, 2xx success, 3xx-6xx
#     failure, e.g. 404 Not Found, 486 Busy Here).
#   * A request and its replies form a *transaction*. ksr's tm module keeps one per request it
#     relays: it resends lost messages, matches replies, and runs the callbacks set below.
#   * A call (INVITE ... BYE) is a *dialog*. Requests inside a dialog carry a To tag.
#
# Class style, as Kamailio's app_python3: at load, mod_init() returns the object whose methods
# are the routes. Every SIP request runs its ksr_request_route(msg); the callbacks named in
# t_on_branch / t_on_reply / t_on_failure are methods of the same object. Each KSR.* call is a
# typed function of a ksr module (the full list is in docs/kemi-api.md). KSR.x.exit() ends the
# route (in Kamailio's Python engines a route ends with `return`; ksr offers both).
#
# The script reads the defines of ksr.cfg (KSR.kx.ifdef / KSR.kx.get_def), so the config's
# switches (WITH_AUTH, WITH_ANTIFLOOD, FALLBACK_URI) change its behaviour without editing it.

import KSR

# Scanners probe SIP servers on the internet for weak passwords; they say who they are.
SCANNERS = ("friendly-scanner", "sipvicious", "sipcli")


def define(name):
    """Value of a #!define of the config, without the quotes a string define may carry ("" if unset)."""
    v = str(KSR.kx.get_def(name) or "")
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        v = v[1:-1]
    return v


class kamailio:
    def __init__(self):
        pass

    # Called once at load with the worker's rank; a negative return refuses the load.
    def child_init(self, rank):
        return 0

    def ksr_request_route(self, msg):
        self.ksr_route_reqinit()
        self.ksr_route_cancel_retrans()
        self.ksr_route_withindlg()

        # From here on: requests that start something new (a call, a registration, a message).
        self.ksr_route_auth()

        # Route headers of a new request would send it elsewhere than we decide: remove them.
        KSR.hdr.remove("Route")

        self.ksr_route_registrar()

        # A request for another domain: relay it as it is (with WITH_AUTH only our own users get here).
        if not KSR.is_myself_ruri():
            if KSR.is_method_in("IS"):
                KSR.rr.record_route()
            self.ksr_route_relay()

        # A request without a user part for this server cannot be routed.
        if KSR.corex.has_ruri_user() < 0:
            KSR.sl.sl_send_reply(484, "Address Incomplete")
            KSR.x.exit()

        self.ksr_route_location()

        # Record-route: dialog-creating requests (INVITE, SUBSCRIBE) get a Record-Route header
        # naming this proxy, so the rest of the dialog (ACK, BYE, ...) comes back through us. Done
        # after the lookup, so the Record-Route names the socket the request leaves from.
        if KSR.is_method_in("IS"):
            KSR.rr.record_route()
        self.ksr_route_relay()

    # 1. The first checks every request passes.
    def ksr_route_reqinit(self):
        # Flood protection (WITH_ANTIFLOOD): an address sending too many requests (pike) is banned
        # for a while (the ipban htable); its requests are dropped without a reply. Our own
        # addresses are never banned.
        if KSR.kx.ifdef("WITH_ANTIFLOOD") and not KSR.is_myself_srcip():
            if not KSR.pv.is_null("$sht(ipban=>$si)"):
                KSR.x.drop()
            if KSR.pike.pike_check_req() < 0:
                KSR.err("pike: blocking " + KSR.kx.get_method() + " from " + KSR.kx.get_srcip() + "\n")
                KSR.pv.seti("$sht(ipban=>$si)", 1)
                KSR.x.drop()

        # Known scanners: drop silently, an answer would only tell them a server is here.
        ua = str(KSR.kx.gete_ua()).lower()
        for name in SCANNERS:
            if name in ua:
                KSR.x.drop()

        # Max-Forwards: add it when absent, decrement it, and refuse a request that ran out of
        # hops (a routing loop somewhere) with 483.
        if KSR.maxfwd.process_maxfwd(10) < 0:
            KSR.sl.sl_send_reply(483, "Too Many Hops")
            KSR.x.exit()

        # OPTIONS to the server itself (no user part): a keep-alive or health probe from a phone
        # or a monitoring tool. Answer it here, before any authentication.
        if KSR.is_OPTIONS() and KSR.is_myself_ruri() and KSR.corex.has_ruri_user() < 0:
            KSR.sl.sl_send_reply(200, "Keepalive")
            KSR.x.exit()

        # Structural checks of the message (CSeq, Content-Length, URIs, ...); a failing check has
        # already been answered (400 and friends) by sanity.
        if KSR.sanity.sanity_check(17895, 7) < 1:
            KSR.err("malformed SIP request from " + KSR.kx.get_srcip() + ":" + str(KSR.kx.get_srcport()) + "\n")
            KSR.x.exit()

    # Relay the request statefully (through a tm transaction); answer with the error if it cannot
    # even be sent. The callbacks set here run later, when branches leave and replies come back.
    def ksr_route_relay(self):
        if KSR.is_method_in("IBSU"):
            # INVITE, BYE, SUBSCRIBE, UPDATE: see each outgoing branch
            KSR.tm.t_on_branch("ksr_branch_manage")
        if KSR.is_method_in("IBU"):
            # INVITE, BYE, UPDATE: see the replies
            KSR.tm.t_on_reply("ksr_onreply_manage")
        if KSR.is_INVITE():
            # a call that fails may be sent somewhere else
            KSR.tm.t_on_failure("ksr_failure_manage")
        if KSR.tm.t_relay() < 0:
            KSR.sl.sl_reply_error()
        KSR.x.exit()

    # 2. CANCEL and retransmissions.
    def ksr_route_cancel_retrans(self):
        # CANCEL: the caller hung up before the call was answered. Hand it to the INVITE's
        # transaction: tm answers it (200) and cancels the branches (the callee's phone stops
        # ringing and the caller gets 487 Request Terminated). A CANCEL for no transaction of
        # ours is dropped.
        if KSR.is_CANCEL():
            if KSR.tm.t_check_trans() > 0:
                self.ksr_route_relay()
            KSR.x.exit()

        # A retransmission of a request already being handled: tm re-sends its last reply (0 = done).
        if not KSR.is_ACK() and KSR.tm.t_check_trans() == 0:
            KSR.x.exit()

    # 3. Requests inside an established dialog (they carry a To tag) follow the route set that
    # record-routing built when the dialog started.
    def ksr_route_withindlg(self):
        if KSR.siputils.has_totag() < 0:
            return
        if KSR.rr.loose_route() > 0:
            # a Route header named us: go where the route set says
            self.ksr_route_relay()
        if KSR.is_ACK():
            # an ACK without a Route: relay it if it belongs to a transaction of ours (the ACK of
            # a failed INVITE), else it has nowhere to go
            if KSR.tm.t_check_trans() > 0:
                self.ksr_route_relay()
            KSR.x.exit()
        # any other in-dialog request that does not name us in a Route is not ours
        KSR.sl.sl_send_reply(404, "Not here")
        KSR.x.exit()

    # 4. Authentication (WITH_AUTH): who is asking? Users and passwords are in the subscriber table.
    def ksr_route_auth(self):
        if not KSR.kx.ifdef("WITH_AUTH"):
            return
        if KSR.is_REGISTER() or KSR.is_myself_furi():
            # A REGISTER, or a request from one of our users (From names our domain): the request
            # must carry the user's credentials. Without them (or with wrong ones) the reply is a
            # challenge: 401 for a REGISTER (WWW-Authenticate), 407 for anything else
            # (Proxy-Authenticate); the phone then sends the request again with the answer to the
            # challenge. auth_check flag 1: the user in From (To for REGISTER) must be the
            # authenticated user.
            if KSR.auth_db.auth_check(KSR.kx.gete_fhost(), "subscriber", 1) < 0:
                KSR.auth.auth_challenge(KSR.kx.gete_fhost(), 0)
                KSR.x.exit()
            # Authenticated: do not pass the credentials on to the next hop (REGISTER and PUBLISH
            # end here, they keep them).
            if not KSR.is_method_in("RP"):
                KSR.auth.consume_credentials()
        # Neither from one of our users nor to one: we are not an open relay.
        if not KSR.is_myself_furi() and not KSR.is_myself_ruri():
            KSR.sl.sl_send_reply(403, "Not relaying")
            KSR.x.exit()

    # 5. REGISTER: store the contact addresses of the user in the location table and answer with
    # all its current bindings (registrar replies itself).
    def ksr_route_registrar(self):
        if not KSR.is_REGISTER():
            return
        if KSR.registrar.save("location", 0) < 0:
            KSR.sl.sl_reply_error()
        KSR.x.exit()

    # 6. Requests for users of this server: find where they are registered. lookup() rewrites the
    # Request-URI to the phone's registered contact.
    def ksr_route_location(self):
        rc = KSR.registrar.lookup("location")
        if rc < 0:
            if KSR.is_ACK():
                # nothing can be answered to an ACK
                KSR.x.exit()
            if rc == -2:
                # the phone is registered but said it does not accept this method
                KSR.sl.send_reply(405, "Method Not Allowed")
            elif KSR.kx.ifdef("WITH_AUTH") and KSR.auth_db.is_subscriber(KSR.kx.get_ruri(), "subscriber", 3) > 0:
                # a user we know, with no phone registered right now
                KSR.sl.send_reply(480, "Temporarily Unavailable")
            else:
                KSR.sl.send_reply(404, "Not Found")
            KSR.x.exit()

    # tm: runs for each branch before it is sent (the Request-URI is the branch's destination).
    def ksr_branch_manage(self, msg):
        KSR.dbg("new branch [" + str(KSR.tm.t_get_branch_index()) + "] to " + KSR.kx.get_ruri() + "\n")

    # tm: runs for each reply of the transaction before it is relayed to the caller.
    def ksr_onreply_manage(self, msg):
        KSR.dbg("incoming reply " + str(KSR.kx.get_status()) + " from " + KSR.kx.get_srcip() + "\n")

    # tm: runs when every branch of an INVITE failed (a 3xx-6xx reply, or no answer in time).
    def ksr_failure_manage(self, msg):
        # The caller cancelled: nothing more to do, tm sends the 487.
        if KSR.tm.t_is_canceled() > 0:
            KSR.x.exit()
        # Busy (486) or no answer (408): when a fallback (voicemail, another phone) is configured,
        # try it once (serial forking). Otherwise the failure reply goes back to the caller.
        fallback = define("FALLBACK_URI")
        if fallback != "" and KSR.tm.t_check_status("486|408") > 0:
            KSR.info("call to " + KSR.kx.get_ruri() + " failed with " + str(KSR.pv.get("$T_reply_code"))
                     + ", trying " + fallback + "\n")
            # the new destination; the registered contact's address ($du) no longer applies
            KSR.seturi(fallback)
            KSR.resetdsturi()
            # relay again within the same transaction; no new failure callback, so this happens
            # once (if the relay fails, the caller gets the first failure reply)
            KSR.tm.t_on_branch("ksr_branch_manage")
            KSR.tm.t_on_reply("ksr_onreply_manage")
            KSR.tm.t_relay()


# Called once at load: returns the object whose methods are the routes.
def mod_init():
    return kamailio()
