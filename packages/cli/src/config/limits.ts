// Limits the config schema enforces, in a module without dependencies: client commands (demo's
// option parser) read them without loading zod and the daemon's modules.

/** Ports per VM: vhost-user names at most 256 queues (SET_VRING_KICK's index is 8 bits), a console device has 2 + 2 x ports. */
export const MAX_PORTS = 127;
