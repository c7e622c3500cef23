export { SipServer, replyTarget, type SipServerOptions, type ServerStats, type RequestHandler, type ResponseHandler } from './server.js';
export { buildMalformedReply } from './malformed.js';
