/**
 * The pino-compatible logger the console logs through (the CLI passes its pino logger). Defined
 * once, in @vtcon/transport (protocol/device.ts); re-exported here for the console's modules.
 */
export { type Logger, silentLogger } from '@vtcon/transport';
