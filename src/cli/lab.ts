import { type Command, Option } from 'commander';
import { isZonelabError } from '../errors.js';
import { findLabs, type Lab, openLab, renderBackends, startLab, watchLab } from '../lab/index.js';
import { lbDriver, lbName, readProberConfig, runProber } from '../lb/index.js';
import { FAULT_FORMS, formatFault, parseFault } from '../records/index.js';
import { createLabFeed, exposureWarning, feedFromLab, labControls, type LiveServer, startLiveServer } from '../web/index.js';
import { interruptible } from './signals.js';
import { examples } from './examples.js';
import { busOption, integerIn, listenOption, parsePort, type SignalName, signalOption, usageError, type WebFlag, webAddress, webOption, zonesOption } from './option-parsers.js';
import { addLbOptions, addSpecOptions, type LbFlags, lbFromFlags, type SpecFlags, specFromFlags } from './spec-options.js';

interface UpFlags extends SpecFlags, LbFlags {
  zones: string[];
  instancesPerZone: number;
  port: number;
  listen: { host: string; port: number };
  bucket: string;
  bus?: string;
  dir: string;
  detach: boolean;
  web: WebFlag;
}

const dirOption = () => new Option('--dir <dir>', "the lab's folder (state, the load balancer's files, logs)").default('./data/lab');

function clock(): string {
  return new Date().toISOString().slice(11, 23);
}

async function printStatus(lab: Lab): Promise<void> {
  const kind = lab.state.lb?.kind;
  console.log(`load balancer: ${lbName(kind)} at ${lab.state.lbUrl} (profile ${lab.state.spec.profile}, mode ${lab.state.spec.mode})`);
  const limits = kind ? lbDriver(kind).limitations(lab.state.spec, lab.state.lb?.settings) : [];
  for (const limit of limits) console.log(`  note: ${limit.field}: ${limit.says}`);
  console.log(renderBackends(await lab.status(), lab.state.spec, kind === 'nginx'));
}

export function registerLab(program: Command): void {
  const lab = program
    .command('lab')
    .summary('zones behind a real load balancer on this machine: up, status, stop, start, fault, heal, down')
    .description(
      'the assignment\'s setup on one machine: one "VM" (a zonelab serve process) per zone × instance, each on ' +
        'its own loopback address and the same port (127.0.1.1:8080, 127.0.1.2:8080, …), the audit app, and ' +
        'a load balancer in front (--lb: a passthrough one made of nftables and probers, as Google Cloud\'s, or a proxy: HAProxy, Caddy or nginx) with health checks from the load-balancer spec.',
    );

  addLbOptions(addSpecOptions(
    lab
      .command('up')
      .description(
        'start a lab and wait until its load balancer reports every backend UP. In the foreground it prints, in words, each ' +
        'change of a backend\'s state and of its process (stopped, started, faulted, healed), and each second how ' +
        'the load balancer split the connections between zones; Ctrl-C stops everything, and so does "lab down" from another shell. With --web it also ' +
        'serves a live page (requests per zone from the load balancer\'s counters, backend states, marks, a stop and a start button per zone). With --detach it returns and leaves the ' +
        'lab running for "lab status | stop | start | down".',
      )
      .addOption(zonesOption(1))
      .option('--instances-per-zone <n>', 'servers per zone', integerIn(1, 20), 1)
      .option('--port <n>', 'port every server listens on (on its own address)', parsePort, 8080)
      .addOption(listenOption())
      .option('--bucket <dir|gs://…>', 'bucket the servers serve (a folder is generated when missing)', './data/bucket')
      .option('--bus <spec>', `event bus of servers and audit (default sqlite:<dir>/events; see serve --help)`, busOption)
      .addOption(dirOption())
      .option('--detach', 'leave the lab running and return', false)
      .addOption(webOption('the lab: requests per zone from the load balancer\'s own counters, backend states, buttons to stop and start a zone')),
  ))
    .addHelpText(
      'after',
      examples([
        ['the two zones, watched in this terminal (Ctrl-C stops them)', 'zonelab lab up'],
        ['the same with a live page and stop/start buttons', 'zonelab lab up --web'],
        ["behind a passthrough balancer like Google Cloud's (root): the servers see the client's own address", 'zonelab lab up --lb passthrough'],
        ['three zones of two servers each, left running for other commands', 'zonelab lab up --zones us-east1-b,us-east1-c,us-east1-d --instances-per-zone 2 --detach'],
      ]),
    )
    .action(async (flags: UpFlags, self: Command) => {
    if (flags.web && flags.detach) usageError(self, '--web serves its page from the foreground lab: leave out --detach');
      const spec = { ...specFromFlags(flags), port: flags.port };
      const lb = lbFromFlags(self, flags);
    // The page starts first: a busy page port stops the command before any lab process starts.
    let running: Lab | null = null;
    let page: LiveServer | null = null;
    const feed = flags.web
      ? createLabFeed({
          zones: flags.zones,
          lbUrl: `http://${flags.listen.host}:${flags.listen.port}`,
          dirFlag: flags.dir === './data/lab' ? null : flags.dir,
          lb: { name: lbDriver(lb.kind).program()?.name ?? lb.kind, hasCounters: lbDriver(lb.kind).hasCounters },
        })
      : null;
    if (feed && flags.web) {
      const address = webAddress(flags.web);
      page = await startLiveServer({ feed, ...address, controls: labControls(() => running) }).catch((error: unknown) => {
        feed.close();
        throw error;
      });
      const warning = exposureWarning(address.host);
      if (warning) process.stderr.write(`warning: ${warning}\n`);
      console.log(`live page: ${page.url}`);
    }
    let started: Lab;
    try {
      started = await startLab({
        zones: flags.zones,
        instancesPerZone: flags.instancesPerZone,
        spec,
        listenHost: flags.listen.host,
        listenPort: flags.listen.port,
        bucket: flags.bucket,
        bus: flags.bus,
        dir: flags.dir,
        lb: lb.kind,
        lbSettings: lb.settings,
        onProgress: (message) => process.stderr.write(`${message}\n`),
      });
    } catch (error) {
      await page?.close();
      feed?.close();
      throw error;
    }
    running = started;
    await printStatus(started);
    if (flags.detach) {
      console.log(`lab running in ${started.state.dir}; stop it with "zonelab lab down${flags.dir === './data/lab' ? '' : ` --dir ${flags.dir}`}"`);
      return;
    }
    console.log('watching backend states (Ctrl-C stops the lab)…');
    const stop = interruptible();
    const ended = await watchLab(started, {
      signal: stop.signal,
      print: (line) => console.log(line),
      // The page's bins are 100 ms wide: look as often.
      intervalMs: feed ? 100 : 250,
      onObservation: feed ? feedFromLab(feed, started.state.spec, !lbDriver(lb.kind).hasView) : undefined,
    });
    await page?.close();
    feed?.close();
    if (ended === 'down-elsewhere') {
      console.log('lab stopped by "zonelab lab down" from another shell');
      return;
    }
    process.stderr.write('stopping the lab…\n');
    await started.down();
    console.log('lab stopped');
  });

  lab
    .command('status')
    .description('backends of a running lab: its load balancer, each process, and the balancer\'s state of each in words')
    .addOption(dirOption())
    .addHelpText('after', examples([['the lab in ./data/lab', 'zonelab lab status'], ['a lab elsewhere', 'zonelab lab status --dir /tmp/lab2']]))
    .action(async (flags: { dir: string }) => printStatus(await openLab(flags.dir)));

  lab
    .command('stop <zone|instance>')
    .description('stop the servers of a zone (or one instance): kill (crash), term (graceful drain) or stop (freeze); the same as "lab fault <zone> kill|term|stop"')
    .addOption(new Option('--signal <signal>', 'kill, term or stop (any case; KILL and SIGKILL work too)').argParser(signalOption).default('KILL', 'kill'))
    .addOption(dirOption())
    .addHelpText(
      'after',
      examples([
        ['the assignment\'s "kill the web server in one VM"', 'zonelab lab stop us-east1-b'],
        ['a graceful stop: the server drains first', 'zonelab lab stop us-east1-b --signal term'],
      ]),
    )
    .action(async (target: string, flags: { signal: SignalName; dir: string }) => {
      const opened = await openLab(flags.dir);
      const rows = (await opened.status()).filter((row) => row.server.zone === target || row.server.name === target);
      if (rows.length > 0 && rows.every((row) => row.process === 'stopped')) {
        console.log(`${rows.map((row) => row.server.name).join(', ')} already stopped (start with "zonelab lab start ${target}")`);
        return;
      }
      const stopped = await opened.stop(target, flags.signal);
      console.log(`${clock()} sent SIG${flags.signal} to ${stopped.map((s) => s.name).join(', ')}`);
    });

  lab
    .command('start <zone|instance>')
    .description('start the servers of a zone (or one instance) again and wait until they answer their health check')
    .addOption(dirOption())
    .addHelpText('after', examples([['bring back the zone stopped before', 'zonelab lab start us-east1-b']]))
    .action(async (target: string, flags: { dir: string }) => {
      const opened = await openLab(flags.dir);
      const rows = (await opened.status()).filter((row) => row.server.zone === target || row.server.name === target);
      if (rows.length > 0 && rows.every((row) => row.process === 'running')) {
        console.log(`${rows.map((row) => row.server.name).join(', ')} already running${rows.some((row) => row.server.fault) ? ' (with a fault: "zonelab lab heal" clears it)' : ''}`);
        return;
      }
      const started = await opened.start(target);
      console.log(`${clock()} ${started.map((s) => s.name).join(', ')} answering ${opened.state.spec.requestPath} again`);
    });

  lab
    .command('fault <zone|instance> <fault>')
    .description(
      `inject a fault into the servers of a zone (or one instance): ${FAULT_FORMS}. ` +
        'kill/term/stop send a signal; partition (packets dropped) and reset (TCP resets) add nftables rules ' +
        'in a table of this lab and need root; latency:<ms>, errors:<fraction> (of object requests answered 500, ' +
        '/healthz still 200), health-fail (/healthz 503) and flap:<period> (/healthz alternating) reach the server ' +
        'through its owner-only control socket. Undo it with "lab heal".',
    )
    .addOption(dirOption())
    .addHelpText(
      'after',
      examples([
        ['drop every packet to and from a zone (root)', 'zonelab lab fault us-east1-b partition'],
        ['half of a zone\'s answers 500 while its health check passes', 'zonelab lab fault us-east1-b errors:0.5'],
        ['half a second more for every answer of one server', 'zonelab lab fault us-east1-b-vm1 latency:500'],
      ]),
    )
    .action(async (target: string, text: string, flags: { dir: string }) => {
      const fault = parseFault(text);
      const opened = await openLab(flags.dir);
      const faulted = await opened.fault(target, fault);
      console.log(`${clock()} ${formatFault(fault)} on ${faulted.map((s) => s.name).join(', ')}`);
    });

  lab
    .command('heal <zone|instance>')
    .description('undo the fault of the servers of a zone (or one instance): rules removed, gray fault cleared, stopped servers started; waits until each answers its health check')
    .addOption(dirOption())
    .addHelpText('after', examples([['undo whatever fault us-east1-b carries', 'zonelab lab heal us-east1-b']]))
    .action(async (target: string, flags: { dir: string }) => {
      const opened = await openLab(flags.dir);
      const rows = (await opened.status()).filter((row) => row.server.zone === target || row.server.name === target);
      if (rows.length > 0 && rows.every((row) => row.process === 'running' && row.server.fault === null)) {
        console.log(`${rows.map((row) => row.server.name).join(', ')} ${rows.length === 1 ? 'carries' : 'carry'} no fault and ${rows.length === 1 ? 'is' : 'are'} running: nothing to heal`);
        return;
      }
      const was = new Map(rows.map((row) => [row.server.name, row.server.fault ?? (row.process === 'running' ? 'healthy' : row.process)]));
      const healed = await opened.heal(target);
      console.log(`${clock()} ${healed.map((s) => `${s.name} (was ${was.get(s.name) ?? 'unknown'})`).join(', ')} healed, answering ${opened.state.spec.requestPath} again`);
    });

  // The passthrough balancer's prober, which its driver starts as a process of the lab's own.
  lab
    .command('prober', { hidden: true })
    .description("the passthrough load balancer's prober (started by the lab, not by hand)")
    .requiredOption('--config <file>', 'the prober configuration the driver wrote')
    .action(async (flags: { config: string }) => {
      // The configuration's path stays in the title: the lab knows its prober by it.
      process.title = `zonelab lab prober ${flags.config}`;
      const config = readProberConfig(flags.config);
      const stop = interruptible();
      await runProber(config, stop.signal, (line) => console.log(line));
    });

  lab
    .command('down')
    .description('stop every process of the lab (also one whose supervisor was killed) and forget it; says so when there is none. --all: every lab with a process of this user running, wherever it is (found by its processes), a lab a running "lab up" or "failover" still uses included')
    .addOption(dirOption())
    .option('--all', 'stop every lab that has a process of this user running, including one a running "lab up" or "failover" uses (a killed "zonelab failover" leaves one in its report folder)', false)
    .option('--under <folder>', 'with --all: only the labs inside this folder')
    .addHelpText(
      'after',
      examples([
        ['stop the lab in ./data/lab', 'zonelab lab down'],
        ['a lab elsewhere', 'zonelab lab down --dir /tmp/lab2'],
        ['every lab left running (after a kill -9, say)', 'zonelab lab down --all'],
        ['only those under ./reports', 'zonelab lab down --all --under reports'],
      ]),
    )
    .action(async (flags: { dir: string; all: boolean; under?: string }, command: Command) => {
      if (flags.under !== undefined && !flags.all) usageError(command, '--under applies to --all only (which labs to stop)');
      if (flags.all) {
        if (command.getOptionValueSource('dir') === 'cli') usageError(command, '--all finds the labs itself: leave out --dir');
        const found = findLabs(flags.under);
        if (found.length === 0) {
          console.log(`no lab running${flags.under === undefined ? '' : ` under ${flags.under}`} (none of this user's processes belongs to one)`);
          return;
        }
        // One lab that cannot be stopped (a damaged state file, say) does not keep the others running.
        const failures: string[] = [];
        for (const left of found) {
          try {
            const opened = await openLab(left.dir);
            await opened.down();
            console.log(`stopped the lab in ${left.dir} (${left.processes.map((p) => `${p.name}, pid ${p.pid}`).join('; ')})`);
          } catch (error) {
            failures.push(`${left.dir}: ${(error as Error).message}`);
          }
        }
        if (failures.length > 0) {
          for (const failure of failures) console.error(`zonelab: could not stop the lab in ${failure}`);
          process.exitCode = 1;
        }
        return;
      }
      let opened: Lab;
      try {
        opened = await openLab(flags.dir);
      } catch (error) {
        if (!isZonelabError(error, 'E_NO_LAB')) throw error;
        const elsewhere = findLabs();
        console.log(
          elsewhere.length === 0
            ? `no lab running in ${flags.dir}`
            : `no lab running in ${flags.dir}; running elsewhere: ${elsewhere.map((found) => found.dir).join(', ')} (stop one with "zonelab lab down --dir <folder>", every one with "zonelab lab down --all")`,
        );
        return;
      }
      await opened.down();
      console.log('lab stopped');
    });
}
