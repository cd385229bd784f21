// SimulatedGuest (the seed's driver model from @vtcon/console) per demo VM, connected to the VM's
// vhost-user socket with VhostUserFrontend. Wired in once @vtcon/console exports it.
export {};
