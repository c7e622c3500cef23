import { describeScriptProxy } from './support/script-proxy.js';

describeScriptProxy({
  engine: 'python',
  module: 'app_python3',
  script: 'stateless-proxy.py',
  modparams: ['modparam("app_python3", "route_time_limit", 100)'],
  attacks: ['loop', 'exceptloop', 'importjs', 'ffi', 'openfile', 'system', 'recurse', 'ctypes'],
  portOffset: 50,
});
