import { describeScriptProxy } from './support/script-proxy.js';

describeScriptProxy({
  engine: 'lua',
  module: 'app_lua',
  script: 'stateless-proxy.lua',
  modparams: ['modparam("app_lua", "route_time_limit", 100)'],
  attacks: ['loop', 'pcallloop', 'osexit', 'ioopen', 'requireabs', 'bytecode', 'rep', 'methodrep', 'gsub', 'bomb', 'recurse'],
  portOffset: 20,
});
