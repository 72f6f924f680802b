export { createHandler, type DurableStreamsHandler, type HandlerOptions } from './handler.js';
export { type DurableStreamsServer, type ServeOptions, serve } from './server.js';
