export * from './context.js';
export * from './engine.js';
export { RouteRuntime, RouteExitSignal, ROUTE_EXIT, isRouteExit, formatScriptError, type ErrorOutcome, type RouteRuntimeOptions, type RouteRunResult, type LatencySettings } from './runtime.js';
export { ScriptHost, type ReloadOutcome } from './script-host.js';
export { xExports } from './x.js';
export { detachedServices } from './detached.js';
