// SIGHUP reload: the difference between two configs as the smallest set of fleet operations, so
// VMs and ports that did not change are never touched (their guests keep their connections).
// The whole plan is computed before anything is applied. Each step stands alone (one VM's failure
// must not stop the others, as at start): a step that fails is reported with its reason, and the
// running config afterwards is exactly what was applied, so the next reload retries the rest.
import { isDeepStrictEqual } from 'node:util';
import type { Config, PortConfig, VmConfig } from '../config/schema.js';
import type { Fleet } from './fleet.js';
import type { ReloadSummary } from './api.js';

export type ReloadStep =
  | { op: 'removeVm'; vm: string }
  | { op: 'addVm'; vm: VmConfig }
  | { op: 'replaceVm'; vm: VmConfig }
  | { op: 'removePort'; vm: string; port: string }
  | { op: 'addPort'; vm: string; port: PortConfig };

/** A VM whose settings other than its port list changed must be re-created. */
function sameVmExceptPorts(a: VmConfig, b: VmConfig): boolean {
  return isDeepStrictEqual({ ...a, ports: [] }, { ...b, ports: [] });
}

/** The steps from `prev` to `next`: removals first, then additions in `next`'s order. */
export function planReload(prev: Config, next: Config): ReloadStep[] {
  const steps: ReloadStep[] = [];
  const before = new Map(prev.vms.map((v) => [v.name, v]));
  const after = new Map(next.vms.map((v) => [v.name, v]));
  for (const name of before.keys()) if (!after.has(name)) steps.push({ op: 'removeVm', vm: name });
  for (const [name, vm] of after) {
    const old = before.get(name);
    if (!old) steps.push({ op: 'addVm', vm });
    else if (!sameVmExceptPorts(old, vm)) steps.push({ op: 'replaceVm', vm });
    else {
      const oldPorts = new Map(old.ports.map((p) => [p.name, p]));
      const newPorts = new Map(vm.ports.map((p) => [p.name, p]));
      for (const [pn, p] of oldPorts) {
        const np = newPorts.get(pn);
        if (!np || np.console !== p.console) steps.push({ op: 'removePort', vm: name, port: pn });
      }
      for (const [pn, p] of newPorts) {
        const op = oldPorts.get(pn);
        if (!op || op.console !== p.console) steps.push({ op: 'addPort', vm: name, port: p });
      }
    }
  }
  return steps;
}

function describe(s: ReloadStep): string {
  if (s.op === 'removeVm') return `removeVm ${s.vm}`;
  if (s.op === 'addVm' || s.op === 'replaceVm') return `${s.op} ${s.vm.name}`;
  return `${s.op} ${s.vm}:${typeof s.port === 'string' ? s.port : s.port.name}`;
}

/**
 * Applies planReload(prev, next) step by step. Returns what was done (and what failed, with its
 * reason) and the config that is now running: `next` where every step succeeded, `prev`'s state
 * where one failed.
 */
export async function applyReload(fleet: Fleet, prev: Config, next: Config): Promise<{ summary: ReloadSummary; running: Config }> {
  const s: ReloadSummary = { addedVms: [], removedVms: [], changedVms: [], addedPorts: [], removedPorts: [], failed: [] };
  const running = new Map(prev.vms.map((v) => [v.name, { ...v, ports: [...v.ports] }]));
  for (const step of planReload(prev, next)) {
    try {
      switch (step.op) {
        case 'removeVm':
          await fleet.removeVm(step.vm);
          running.delete(step.vm);
          s.removedVms.push(step.vm);
          break;
        case 'addVm':
          await fleet.addVm(step.vm);
          running.set(step.vm.name, step.vm);
          s.addedVms.push(step.vm.name);
          break;
        case 'replaceVm':
          await fleet.removeVm(step.vm.name);
          running.delete(step.vm.name);
          await fleet.addVm(step.vm);
          running.set(step.vm.name, step.vm);
          s.changedVms.push(step.vm.name);
          break;
        case 'removePort': {
          await fleet.removePort(step.vm, step.port);
          const vm = running.get(step.vm)!;
          vm.ports = vm.ports.filter((p) => p.name !== step.port);
          s.removedPorts.push(`${step.vm}:${step.port}`);
          break;
        }
        case 'addPort':
          await fleet.addPort(step.vm, step.port);
          running.get(step.vm)!.ports.push(step.port);
          s.addedPorts.push(`${step.vm}:${step.port.name}`);
          break;
      }
    } catch (err) {
      s.failed.push({ step: describe(step), reason: (err as { reason?: string }).reason ?? 'INTERNAL', message: (err as Error).message });
    }
  }
  // VM order follows the new config; a VM kept because its removal failed goes last.
  const order = [...next.vms.map((v) => v.name), ...prev.vms.map((v) => v.name)];
  const vms = [...new Set(order)].flatMap((n) => {
    const vm = running.get(n);
    return vm ? [vm] : [];
  });
  return { summary: s, running: { ...next, vms } };
}
