// SIGHUP reload: the difference between two configs as the smallest set of fleet operations, so
// VMs and ports that did not change are never touched (their guests keep their connections).
import { isDeepStrictEqual } from 'node:util';
import type { Config, VmConfig } from '../config/schema.js';
import type { Fleet } from './fleet.js';
import type { ReloadSummary } from './api.js';

/** A VM whose settings other than its port list changed must be re-created. */
function sameVmExceptPorts(a: VmConfig, b: VmConfig): boolean {
  return isDeepStrictEqual({ ...a, ports: [] }, { ...b, ports: [] });
}

export async function applyConfigDiff(fleet: Fleet, prev: Config, next: Config): Promise<ReloadSummary> {
  const s: ReloadSummary = { addedVms: [], removedVms: [], changedVms: [], addedPorts: [], removedPorts: [] };
  const before = new Map(prev.vms.map((v) => [v.name, v]));
  const after = new Map(next.vms.map((v) => [v.name, v]));
  for (const [name] of before) {
    if (!after.has(name)) {
      await fleet.removeVm(name);
      s.removedVms.push(name);
    }
  }
  for (const [name, vm] of after) {
    const old = before.get(name);
    if (!old) {
      await fleet.addVm(vm);
      s.addedVms.push(name);
    } else if (!sameVmExceptPorts(old, vm)) {
      await fleet.removeVm(name);
      await fleet.addVm(vm);
      s.changedVms.push(name);
    } else {
      const oldPorts = new Map(old.ports.map((p) => [p.name, p]));
      const newPorts = new Map(vm.ports.map((p) => [p.name, p]));
      for (const [pn, p] of oldPorts) {
        const np = newPorts.get(pn);
        if (!np || np.console !== p.console) {
          await fleet.removePort(name, pn);
          s.removedPorts.push(`${name}:${pn}`);
        }
      }
      for (const [pn, p] of newPorts) {
        const op = oldPorts.get(pn);
        if (!op || op.console !== p.console) {
          await fleet.addPort(name, p);
          s.addedPorts.push(`${name}:${pn}`);
        }
      }
    }
  }
  return s;
}
