/**
 * @vtcon/transport/testing — echo fixtures for tests, examples and benchmarks: a device that
 * echoes each queue's bytes back, and a front-end transfer that checks them. Not for production.
 */
export { EchoDevice } from './protocol/echo-device.js';
export { EchoTransfer, type EchoResult } from './protocol/echo-harness.js';
