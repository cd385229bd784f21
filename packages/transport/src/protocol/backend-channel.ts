/**
 * The backend request channel (SET_BACKEND_REQ_FD; protocol feature BACKEND_REQ): a second
 * socket on which the back-end sends requests to the front-end. This back-end sends only
 * BACKEND_CONFIG_CHANGE_MSG, when the device says its config space changed.
 */
import { VhostUserConnection, safeClose } from '../socket/connection.js';
import { encodeMessage, type VhostUserMessage } from './message.js';
import { REQUEST_FLAGS } from './message-header.js';
import { BackendRequest } from './codes.js';
import { checkSocketFd } from '../socket/received-fd.js';
import type { Reply, SessionState } from './backend-state.js';

export function setBackendReqFd(s: SessionState, m: VhostUserMessage): Reply {
  const fd = m.fds[0]!;
  checkSocketFd(fd, 'SET_BACKEND_REQ_FD');
  m.fds.fill(-1);
  s.backendReq?.close();
  // Replies on this channel (REPLY_ACK) are read and dropped; nothing else flows back.
  s.backendReq = new VhostUserConnection(fd, 'backendReply', {
    onMessage: (fm) => { for (const f of fm.fds) safeClose(f); },
    onClose: (e) => { if (e && e.reason !== 'PEER_CLOSED') s.log.warn({ reason: e.reason, err: e.message }, 'backend request channel closed'); },
  });
  const ch = s.backendReq;
  s.device.attachBackendChannel?.({
    configChanged: () => {
      if (ch.isClosed) return;
      try {
        ch.send(encodeMessage({ request: BackendRequest.CONFIG_CHANGE_MSG, flags: REQUEST_FLAGS, payload: { kind: 'none' } }));
      } catch (e) { s.log.warn({ err: (e as Error).message }, 'BACKEND_CONFIG_CHANGE_MSG not sent'); }
    },
  });
  return undefined;
}
