/** What the container faults share: the target must be a container, resolved by --container-id. */
import { badArgs } from '../../errors';
import { validateAction, type ContainerAction } from '../../host/runtimes';
import { type ContainerScope, type Scope, isContainer } from '../../host/scope';

export function theContainer(t: Scope, op: ContainerAction['op']): ContainerScope {
  if (!isContainer(t)) throw badArgs(`--container-id is required: container ${op} acts on one container`);
  validateAction(t, op);
  return t;
}

/** Wait until the container's init process is gone (a kill or rm took effect), up to ms. */
export async function waitGone(alive: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (alive() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}
