import { describeScriptProxy } from './support/script-proxy.js';

describeScriptProxy({
  engine: 'jsdt',
  module: 'app_jsdt',
  script: 'stateless-proxy.js',
  modparams: ['modparam("app_jsdt", "route_time_limit", 100)'],
  attacks: ['loop', 'catchloop', 'bomb', 'recurse', 'process', 'require', 'globals', 'fnctor', 'protoksr'],
  portOffset: 30,
});
