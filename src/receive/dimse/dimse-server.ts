/**
 * The DIMSE listener: a net.Server we own (bind address, Nagle off, PDU framing guard) that hands each
 * guarded socket to a StoreScp. dcmjs-dimse's own Server is not used: it binds every interface and has no
 * limits, and its association/idle timers never fire on sockets it did not connect itself.
 *
 * Availability under hostile connections (ConnectionTable): a cap on connections in total and per peer
 * address, where unassociated connections give way to new ones (oldest first); an ARTIM-style deadline from
 * accept until the association request has arrived whole and been answered; an idle limit that only whole
 * PDUs reset. Bounded memory (MessageGuard): data sets other than C-STORE ones are capped, a command that
 * may carry none but announces one is aborted before its data is read, and so is a peer that does not read
 * our responses.
 */
import net from 'node:net';
import { HostResolver } from './host-resolver';
import type { Logger } from '../../logging/logger';
import { ensureDimseLibraryLog } from '../../logging/dimse-library-log';
import type { InstanceStore } from '../../store/instance-store';
import type { SettingsRepository } from '../../store/settings-repository';
import type { Config } from '../../config/schema';
import { StoreScp } from './store-scp';
import { PduFrameChecker, guardSocket } from './pdu-guard';
import { normalizeAddress, type AssociationPolicyInput } from './association-policy';
import { storagePreference } from './transfer-syntax-negotiation';
import { ConnectionTable } from './connection-table';
import { MessageGuard, type MessageViolation } from './message-guard';
import { AbortReason, encodeAbort } from './p-data';

/** dcmjs-dimse's PDU buffer limit (Implementation.MaxPduLength); we never advertise more. */
const LIBRARY_MAX_PDU = 262144;
/** Largest non-data PDU we read (an A-ASSOCIATE-RQ with ~100 presentation contexts is ~10 KB). */
const MAX_CONTROL_PDU = 64 * 1024;
/** How often deadlines are checked (one timer for all connections). */
const SWEEP_MS = 250;

export interface DimseServerOptions {
  config: Config['dimse'];
  store: InstanceStore;
  settings: SettingsRepository;
  logger: Logger;
}

export class DimseServer {
  private readonly server: net.Server;
  private readonly sockets = new Map<net.Socket, StoreScp | undefined>();
  private readonly table: ConnectionTable<net.Socket>;
  private readonly log: Logger;
  private stopping = false;
  /** Connections we sent A-ABORT on: what they send is read and dropped until they close. */
  private readonly aborting = new WeakSet<net.Socket>();
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Connections closed since the last sweep's log line, by why (logged once per sweep, not per socket). */
  private closedCounts = new Map<string, { n: number; addresses: Set<string> }>();

  constructor(private readonly opts: DimseServerOptions) {
    this.log = opts.logger.child({ component: 'dimse' });
    ensureDimseLibraryLog();
    const cfg = opts.config;
    this.table = new ConnectionTable({
      maxConnections: cfg.maxConnections,
      maxConnectionsPerAddress: cfg.maxConnectionsPerAddress,
      associationRequestTimeoutMs: cfg.associationRequestTimeoutSeconds * 1000,
      idleTimeoutMs: cfg.idleTimeoutSeconds * 1000,
    });
    // No server.maxConnections: at the cap Node refuses the newest socket, which is how 64 silent
    // connections locked out every modality. The table decides instead.
    this.server = net.createServer({ noDelay: true }, (socket) => this.onConnection(socket));
    this.server.on('error', (err) => this.log.error('DIMSE server error', { error: String(err) }));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.config.port, this.opts.config.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const port = (this.server.address() as net.AddressInfo).port;
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
    this.log.info('DIMSE listening', { host: this.opts.config.host, port });
    return port;
  }

  /** Connections held now (associated or not). */
  openConnections(): number {
    return this.table.size;
  }

  /** Open associations (accepted or being negotiated). */
  openAssociations(): number {
    let n = 0;
    for (const scp of this.sockets.values()) if (scp?.isAccepted) n += 1;
    return n;
  }

  private onConnection(socket: net.Socket): void {
    socket.on('error', () => undefined);
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const address = normalizeAddress(socket.remoteAddress) ?? 'unknown';
    const admission = this.table.admit(address);
    if (!admission.admit) {
      this.countClosed('refused: connection limit', address);
      socket.destroy();
      return;
    }
    for (const victim of admission.evict) {
      this.countClosed('unassociated, gave way to a new connection', victim.address);
      this.closeNow(victim.handle);
    }
    this.table.add(socket, address, Date.now());
    socket.setNoDelay(true);
    const cfg = this.opts.config;
    const maxPdu = Math.min(cfg.maxPduLength, LIBRARY_MAX_PDU);
    const checker = new PduFrameChecker({ maxPDataLength: maxPdu, maxControlLength: MAX_CONTROL_PDU });
    const messages = new MessageGuard({ maxBufferedBytes: cfg.maxBufferedBytesPerAssociation });
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const router: { intercept?: (pdu: Buffer) => boolean } = {};
    const deliverToLibrary = guardSocket(
      socket,
      checker,
      (v) => {
        this.log.warn('connection dropped: PDU framing violation', { remote, ...v });
        this.closeNow(socket);
      },
      router,
    );

    const scp = new StoreScp(socket, {
      connectTimeout: cfg.idleTimeoutSeconds * 1000,
      associationTimeout: cfg.associationRequestTimeoutSeconds * 1000,
      pduTimeout: cfg.idleTimeoutSeconds * 1000,
    });
    // The library arms socket.setTimeout, which any single byte resets: our sweep keeps the deadlines.
    socket.setTimeout(0);
    scp.attach(socket, {
      store: this.opts.store,
      logger: this.opts.logger.child({ component: 'dimse' }),
      maxPduLength: maxPdu,
      transferSyntaxes: storagePreference(cfg.transferSyntaxes),
      policy: () => this.policy(),
      openAssociations: () => this.openAssociations(),
      onAssociationAccepted: () => this.table.setPhase(socket, 'associated'),
      fastStorePath: cfg.fastStorePath,
      deliverToLibrary,
      limits: { maxInstanceBytes: cfg.maxInstanceBytes, freeSpaceCheckBytes: cfg.freeSpaceCheckEveryMb * 1024 * 1024 },
    });
    router.intercept = (pdu) => {
      if (this.aborting.has(socket)) return true;
      this.table.pduReceived(socket, Date.now());
      if (checker.associationRequestComplete) this.table.setPhase(socket, 'requested');
      let v: MessageViolation | { kind: 'responses-not-read'; bytes: number } | undefined = messages.push(pdu, scp.isAccepted);
      if (!v && socket.writableLength > cfg.maxBufferedBytesPerAssociation) v = { kind: 'responses-not-read', bytes: socket.writableLength };
      if (v) {
        this.log.warn('association aborted: peer exceeded a protocol or memory limit', { remote, ...v });
        this.abortNow(socket, v.kind === 'message-too-large' || v.kind === 'responses-not-read' ? AbortReason.NotSpecified : AbortReason.UnexpectedPduParameter);
        return true;
      }
      return scp.interceptPdu(pdu);
    };
    scp.on('networkError', () => socket.destroy());
    socket.on('close', () => {
      this.table.remove(socket);
      this.sockets.delete(socket);
    });
    this.sockets.set(socket, scp);
  }

  /** Closes a connection at once and frees its slot (the socket's 'close' comes later). */
  private closeNow(socket: net.Socket): void {
    this.table.remove(socket);
    socket.destroy();
  }

  /**
   * Sends A-ABORT (service provider) followed by FIN, and drops whatever the peer still sends until it
   * closes (at most 1 s): closing with unread bytes would reset the connection and could lose the A-ABORT.
   */
  private abortNow(socket: net.Socket, reason: number): void {
    this.table.remove(socket);
    this.aborting.add(socket);
    if (socket.destroyed) return;
    const t = setTimeout(() => socket.destroy(), 1000);
    t.unref();
    socket.once('close', () => clearTimeout(t));
    try {
      socket.end(encodeAbort(2, reason));
    } catch {
      socket.destroy();
    }
  }

  /** Applies the association request deadline and the idle limit. */
  private sweep(): void {
    const now = Date.now();
    const busy = (s: net.Socket) => (this.sockets.get(s)?.inFlight.size ?? 0) > 0;
    for (const { connection, why } of this.table.expired(now, busy)) {
      if (why === 'association-request-timeout') {
        this.countClosed(`association not requested and accepted within ${this.opts.config.associationRequestTimeoutSeconds} s`, connection.address);
        this.closeNow(connection.handle);
      } else {
        this.countClosed(`no PDU for ${this.opts.config.idleTimeoutSeconds} s`, connection.address);
        this.abortNow(connection.handle, AbortReason.NotSpecified);
      }
    }
    for (const [why, c] of this.closedCounts) {
      this.log.warn('connections closed', { why, count: c.n, addresses: [...c.addresses].slice(0, 10) });
    }
    this.closedCounts.clear();
  }

  private countClosed(why: string, address: string): void {
    const c = this.closedCounts.get(why) ?? { n: 0, addresses: new Set<string>() };
    c.n += 1;
    c.addresses.add(address);
    this.closedCounts.set(why, c);
  }

  /** Source host names, resolved with a deadline (not on every association request). */
  readonly hosts = new HostResolver();

  private async policy(): Promise<AssociationPolicyInput> {
    const sources = this.opts.settings.sources.list();
    const resolvedHosts = new Map<string, string[]>();
    for (const s of sources) {
      if (s.host && net.isIP(s.host) === 0 && !resolvedHosts.has(s.host)) {
        resolvedHosts.set(s.host, await this.hosts.resolve(s.host));
      }
    }
    return {
      localAeTitles: this.opts.settings.aeTitles.list().map((a) => a.aeTitle),
      sources,
      allowUnknownSources: this.opts.config.allowUnknownSources,
      maxAssociations: this.opts.config.maxAssociations,
      resolvedHosts,
    };
  }

  /**
   * Stops accepting connections, lets in-flight stores finish (up to `graceMs`), then closes every socket.
   * Nothing acknowledged is lost: a store answered Success is already durable and indexed.
   */
  async stop(graceMs = 10000): Promise<void> {
    this.stopping = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const inFlight = [...this.sockets.values()].flatMap((s) => (s ? [...s.inFlight] : []));
    if (inFlight.length > 0) {
      await Promise.race([Promise.allSettled(inFlight), new Promise((r) => setTimeout(r, graceMs).unref())]);
    }
    const scps = [...this.sockets.values()];
    for (const socket of this.sockets.keys()) socket.destroy();
    this.sockets.clear();
    // Instances still arriving were never answered: remove their temp files before the process ends.
    await Promise.all(scps.map((s) => s?.discardPartial()));
    const late = scps.flatMap((s) => (s ? [...s.inFlight] : []));
    if (late.length > 0) await Promise.race([Promise.allSettled(late), new Promise((r) => setTimeout(r, graceMs).unref())]);
    await closed;
  }
}
