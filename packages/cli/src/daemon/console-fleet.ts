// The Fleet backed by the real device stack: one VhostUserBackend per VM socket, a ConsoleDevice
// per connection, sinks per port. Wired in once @vtcon/console exports ConsoleDevice and its
// sinks; until then create-fleet.ts falls back to SimFleet.
export {};
