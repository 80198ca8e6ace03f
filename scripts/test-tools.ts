/**
 * `npm test` runs this first: the system tools the integration tests use must be on PATH. Missing
 * ones are installed from Debian's packages when this runs as root with apt-get (as on a fresh CI or
 * developer machine of this project's kind); otherwise it stops with one line naming what to install.
 *
 *   kcat                  hostile and external-client messages (an external Kafka client)
 *   prometheus, promtool  the scrape test and the alert-rule tests
 *   java, mvn             the local Kafka broker (jars resolved from Maven Central), unless
 *                         KAFKA_BROKERS points at a running broker
 *   redis-server          throwaway Redis servers of the fault and policy tests
 *   chromium              the report test opens `seqae report`'s page in it (headless, through
 *                         playwright-core; /usr/bin/chromium unless CHROMIUM names another)
 *   script                a terminal (pty) for the demo's live view test
 */
import { spawnSync } from 'node:child_process';

interface Tool {
  command: string;
  debian: string;
  needed?: () => boolean;
}

const tools: Tool[] = [
  { command: 'kcat', debian: 'kcat' },
  { command: 'prometheus', debian: 'prometheus' },
  { command: 'promtool', debian: 'prometheus' },
  { command: 'redis-server', debian: 'redis-server' },
  { command: 'chromium', debian: 'chromium' },
  { command: 'script', debian: 'bsdutils' },
  { command: 'java', debian: 'openjdk-17-jre-headless', needed: () => !process.env.KAFKA_BROKERS },
  { command: 'mvn', debian: 'maven', needed: () => !process.env.KAFKA_BROKERS },
];

const found = (command: string) =>
  spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

const missing = () => tools.filter((t) => (t.needed?.() ?? true) && !found(t.command));

let absent = missing();
if (absent.length > 0) {
  const packages = [...new Set(absent.map((t) => t.debian))];
  const root = process.getuid?.() === 0;
  if (root && found('apt-get')) {
    console.error(`test tools: installing ${packages.join(' ')} (Debian packages)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const run = (args: string[]) =>
      spawnSync('apt-get', args, { env, stdio: ['ignore', 'ignore', 'inherit'] }).status === 0;
    if (
      !run(['update', '-qq']) ||
      !run(['install', '-y', '-qq', '--no-install-recommends', ...packages])
    )
      console.error('test tools: apt-get failed');
    absent = missing();
  }
  if (absent.length > 0) {
    const names = absent.map((t) => t.command).join(', ');
    const pkgs = [...new Set(absent.map((t) => t.debian))].join(' ');
    console.error(
      `test tools: missing ${names}: install them (Debian: apt-get install -y ${pkgs})`,
    );
    process.exit(1);
  }
}
