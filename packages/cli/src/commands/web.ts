// The web server (fastify) is imported only when used, so the other commands start without it.
import type { Command } from 'commander';
import { controlSocket, type GlobalOptions } from '../cli/context.js';
import { CliError } from '../errors.js';

interface WebOpts { listen?: string; config?: string; tokenFile?: string }

export function register(program: Command): void {
  program
    .command('web')
    .description('serve the fleet page: live fleet table and browser consoles (xterm.js) for the local daemon')
    .option('--listen <HOST:PORT>', 'address to bind (default: web.listen from --config, else 127.0.0.1:8080)')
    .option('-c, --config <FILE>', 'take the web: section (tokens, TLS, origins) from this fleet config')
    .option('--token-file <PATH>', 'login tokens, "read <token>" / "write <token>" lines, mode 0600; created with fresh tokens if missing (default: web-tokens next to the control socket)')
    .addHelpText('after', `
Log in with a token from the token file: a write token types into consoles, a read token only
watches. The token is exchanged for a session cookie (HttpOnly, SameSite=Strict); it never
appears in a URL. Bound to loopback unless --listen says otherwise; for anything else set
web.tls and web.origins in the config.

Examples:
  vtcon web
  vtcon web --listen 127.0.0.1:9000 --token-file ~/.config/vtcon/web-tokens
  vtcon web --config fleet.yaml            # web: { listen, tokens, tls, origins }`)
    .action(async (opts: WebOpts, cmd: Command) => {
      const [{ loadConfigFile }, { webSchema }] = await Promise.all([import('../config/load.js'), import('../web/web-config.js')]);
      const fromFile = opts.config ? loadConfigFile(opts.config).web : undefined;
      const parsed = webSchema.safeParse({
        ...(fromFile ?? {}),
        ...(opts.listen ? { listen: opts.listen } : {}),
        ...(opts.tokenFile ? { tokenFile: opts.tokenFile } : {}),
      });
      if (!parsed.success) throw new CliError('USAGE', `web: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const control = controlSocket(cmd.optsWithGlobals<GlobalOptions>());
      const web = await (await import('../web/launch.js')).launchWeb(parsed.data, control);
      process.stderr.write(`vtcon web: ${web.server.url} (daemon ${control})\n`);
      if (web.tokenFile) process.stderr.write(`vtcon web: login tokens in ${web.tokenFile}${web.created ? ' (created)' : ''}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await web.server.close();
    });
}
