#!/usr/bin/env bash
# ksr-bench-server.sh - start ksr the way ../shared/bench/run.sh starts Kamailio.
#
#   ksr-bench-server.sh <engine>        engine: lua | python | js
#
# run.sh starts a custom server as `bash -c "exec <command>"` with BENCH_IP,
# BENCH_PORT, BENCH_AUTH (0|1), BENCH_ROUTES_DIR, BENCH_CHILDREN and
# BENCH_LATENCY (0|1) in the environment. This maps them to the same -A
# defines run.sh gives Kamailio and execs ksr on the harness's own config
# (../shared/bench/kamailio/kamailio.cfg, UNCHANGED) with the harness's
# route script for the engine ($BENCH_ROUTES_DIR/route.<ext>, unchanged):
#
#   ksr -DD -E -f <cfg> -m 512 -A WITH_LUA -A BENCH_IP=.. -A BENCH_PORT=..
#       -A BENCH_CHILDREN=.. -A 'ROUTE_FILE="<dir>/route.lua"' [-A WITH_AUTH]
#       [-A WITH_LATENCY]
#
# Knobs: KSR_BENCH_CFG (another config file), KSR_BENCH_NODE_OPTIONS (extra
# node flags, e.g. --cpu-prof), KSR_BIN (the ksr command; default: this
# checkout's node_modules/.bin/ksr). The final exec keeps the pid, so run.sh
# measures and stops the ksr process itself.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
engine=${1:-lua}
case $engine in
	lua) def=WITH_LUA; file=route.lua ;;
	python|python3|py) def=WITH_PY; file=route.py ;;
	js|jsdt|javascript) def=WITH_JS; file=route.js ;;
	*) echo "ksr-bench-server.sh: unknown engine '$engine' (lua|python|js)" >&2; exit 2 ;;
esac
routes=${BENCH_ROUTES_DIR:?BENCH_ROUTES_DIR is not set (run me through bench/run.sh)}
cfg=${KSR_BENCH_CFG:-$routes/../kamailio/kamailio.cfg}
[ -r "$cfg" ] || { echo "ksr-bench-server.sh: cannot read $cfg" >&2; exit 2; }
args=(-DD -E -f "$cfg" -m 512 -A "$def"
	-A "BENCH_IP=${BENCH_IP:-127.0.0.1}" -A "BENCH_PORT=${BENCH_PORT:-5060}"
	-A "BENCH_CHILDREN=${BENCH_CHILDREN:-2}"
	-A "ROUTE_FILE=\"$routes/$file\"")
[ "${BENCH_AUTH:-0}" = 1 ] && args+=(-A WITH_AUTH)
[ "${BENCH_LATENCY:-0}" = 1 ] && args+=(-A WITH_LATENCY)
ksr_bin=${KSR_BIN:-$repo/node_modules/.bin/ksr}
if [ -n "${KSR_BENCH_NODE_OPTIONS:-}" ]; then
	# flags such as --cpu-prof are refused in NODE_OPTIONS: run node directly
	# shellcheck disable=SC2086
	exec node $KSR_BENCH_NODE_OPTIONS "$repo/packages/ksr/bin/ksr.mjs" "${args[@]}"
fi
exec "$ksr_bin" "${args[@]}"
