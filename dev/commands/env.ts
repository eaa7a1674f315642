import { envDown, envStatus, envUp, DEFAULT_ENV } from '../env/local.ts';
import { textTable } from '../../pipeline/report/table.ts';
import { EksdError } from '../../pipeline/errors.ts';
import { CONFIG_OPTIONS, EXIT, type Command } from '../../pipeline/cli/command.ts';
import { configFrom } from '../../pipeline/cli/config-flags.ts';
import { seedLocal } from '../env/seed.ts';
import { loadCatalog } from '../../pipeline/catalog/load.ts';

export const envCommand: Command = {
  name: 'env',
  summary: 'start, inspect or stop the local environment (dockerd, registry on 127.0.0.1:5000, binfmt)',
  usage: 'eksd env up|status|down|seed [--update] [--json]',
  details: [
    'up      installs missing Debian packages (as root), mounts binfmt_misc and registers qemu, starts dockerd',
    '        (--bridge=none --iptables=false, socket /run/eksd/docker.sock) and the registry on 127.0.0.1:5000.',
    '        A second up while everything runs returns at once.',
    'status  says what runs.',
    'down    stops exactly the processes up started (by recorded pid).',
    'seed    (local profile) pushes the stand-in upstream AL2 image and writes the stand-in artifacts;',
    '        --update pushes the next stand-in revision, as an AL2 security update would.',
    `State, logs and pids live in ${DEFAULT_ENV.root} (EKSD_ENV_DIR).`,
  ].join('\n'),
  options: { ...CONFIG_OPTIONS, json: { type: 'boolean', description: 'print the status as JSON' }, update: { type: 'boolean', description: 'seed: push the next stand-in upstream revision' } },
  async run(ctx) {
    const action = ctx.args[0] ?? 'status';
    const progress = (l: string) => ctx.err(`env: ${l}`);
    if (action === 'up') print(ctx, await envUp(DEFAULT_ENV, progress));
    else if (action === 'status') print(ctx, await envStatus(DEFAULT_ENV));
    else if (action === 'down') {
      const stopped = await envDown(DEFAULT_ENV);
      ctx.out(stopped.length ? `stopped ${stopped.join(', ')}` : 'nothing of ours was running');
    } else if (action === 'seed') {
      const config = configFrom(ctx);
      const r = await seedLocal(config, loadCatalog(config), { update: ctx.values.update === true });
      ctx.out(`stand-in upstream ${r.base.reference} revision ${r.base.revision}: ${r.base.digest}${r.created ? ' (pushed)' : ' (already there)'}`);
      ctx.out(`stand-in artifacts: ${r.artifacts} written under ${config.artifacts.baseUrl}`);
      if (r.pinWritten) ctx.out(`pinned it in ${config.basePin}`);
    } else {
      throw new EksdError('USAGE', `unknown env action '${action}'`, { hint: 'use eksd env up, eksd env status or eksd env down' });
    }
    return EXIT.ok;
  },
};

function print(ctx: Parameters<Command['run']>[0], status: Awaited<ReturnType<typeof envStatus>>): void {
  if (ctx.values.json) { ctx.out(JSON.stringify(status, null, 2)); return; }
  ctx.out(textTable(['SERVICE', 'RUNNING', 'PID', 'WHERE'], status.map((s) => [s.name, s.running ? 'yes' : 'no', s.pid ? String(s.pid) : '-', s.detail])));
}
