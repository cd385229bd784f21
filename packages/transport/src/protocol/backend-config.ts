/**
 * Device config space requests (GET_CONFIG, SET_CONFIG; protocol feature CONFIG). A failing
 * GET_CONFIG is answered with an empty payload by the session (the spec's error form).
 */
import type { ConfigSpace } from './message-config.js';
import { err, type Reply, type SessionState } from './backend-state.js';

export function getConfig(s: SessionState, config: ConfigSpace): Reply {
  const { offset, size } = config;
  if (offset + size > s.device.configSize) throw err('CONFIG_OUT_OF_RANGE', `GET_CONFIG [${offset}, +${size}) outside ${s.device.configSize}-byte config`);
  const data = s.device.getConfig(offset, size);
  if (data.byteLength !== size) throw err('DEVICE_FAILED', `device returned ${data.byteLength} config bytes, expected ${size}`);
  return { kind: 'config', config: { offset, size, flags: config.flags, data } };
}

export function setConfig(s: SessionState, config: ConfigSpace): Reply {
  const { offset, size } = config;
  if (offset + size > s.device.configSize) throw err('CONFIG_OUT_OF_RANGE', `SET_CONFIG [${offset}, +${size}) outside ${s.device.configSize}-byte config`);
  if (!s.device.setConfig) throw err('UNSUPPORTED_REQUEST', 'device config space is read-only');
  s.device.setConfig(offset, config.data);
  return undefined;
}
