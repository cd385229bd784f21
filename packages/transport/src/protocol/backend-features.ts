/**
 * Feature negotiation: GET/SET_FEATURES (the device's virtio features plus
 * VHOST_USER_F_PROTOCOL_FEATURES) and GET/SET_PROTOCOL_FEATURES. A front-end may ack only
 * bits this back-end offered.
 */
import { PROTOCOL_FEATURES_BIT, err, type Reply, type SessionState } from './backend-state.js';
import { tryStart } from './backend-vring.js';

export function getFeatures(s: SessionState): Reply {
  return { kind: 'u64', value: s.device.features | PROTOCOL_FEATURES_BIT };
}

export function setFeatures(s: SessionState, v: bigint): Reply {
  const offered = s.device.features | PROTOCOL_FEATURES_BIT;
  if ((v & ~offered) !== 0n) throw err('FEATURES_INVALID', `SET_FEATURES 0x${v.toString(16)} acks bits not offered (0x${offered.toString(16)})`);
  s.ackedFeatures = v;
  s.device.setFeatures(v & ~PROTOCOL_FEATURES_BIT);
  // Without protocol features rings start enabled (spec "Ring states").
  if (!s.protocolNegotiated) for (let i = 0; i < s.vrings.length; i++) { s.vrings[i]!.enabled = true; tryStart(s, i); }
  return undefined;
}

export function getProtocolFeatures(s: SessionState): Reply {
  return { kind: 'u64', value: s.offeredProtocol };
}

export function setProtocolFeatures(s: SessionState, v: bigint): Reply {
  if ((v & ~s.offeredProtocol) !== 0n) throw err('FEATURES_INVALID', `SET_PROTOCOL_FEATURES 0x${v.toString(16)} not a subset of 0x${s.offeredProtocol.toString(16)}`);
  s.ackedProtocol = v;
  return undefined;
}
