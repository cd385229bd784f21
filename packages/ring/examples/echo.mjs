// Driver and device of one split virtqueue in a single thread: the driver
// sends "hello" plus an empty reply buffer, the device echoes it upper-cased.
// Run: npx nx run @vtcon/ring:build && node packages/ring/examples/echo.mjs
import { DeviceQueue, DriverQueue } from '@vtcon/ring';
import { makeTestQueue } from '@vtcon/ring/testing';

const { memory, config, alloc } = makeTestQueue({ size: 16, eventIdx: true, indirect: true });
const driver = new DriverQueue(memory, config);
const device = new DeviceQueue(memory, config);

const out = alloc.alloc(64);
const reply = alloc.alloc(64);
const msg = new TextEncoder().encode('hello, virtqueue');
memory.view(out, msg.length).set(msg);
driver.addChain([{ addr: out, len: msg.length }], [{ addr: reply, len: 64 }], 'greeting');
if (driver.kickPrepare()) console.log('driver: kick the device');

for (let chain; (chain = device.popAvailable()) !== null; ) {
  const text = new TextDecoder().decode(chain.readable[0]).toUpperCase();
  const n = new TextEncoder().encodeInto(text, chain.writable[0]).written;
  device.pushUsed(chain.head, n);
}
if (device.needsNotification()) console.log('device: signal the driver');

const used = driver.getUsed();
console.log(`driver: ${used.token} → "${new TextDecoder().decode(memory.view(reply, used.len))}"`);
